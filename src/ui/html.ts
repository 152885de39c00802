/**
 * JSX-like templates without a compiler: htm bound to preact's `h`.
 *
 * @example
 *   html`<a href=${href.hosts()}>hosts</a>`
 */
import { h, type VNode } from 'preact';
import htm from 'htm';

/** One root element per template (use a Fragment, `<>...</>`, for several). */
export const html = htm.bind(h) as (strings: TemplateStringsArray, ...values: unknown[]) => VNode;
