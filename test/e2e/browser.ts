/**
 * Headless Chromium for the console's tests: Debian's build (never a downloaded one), with the
 * flags that keep it quiet and self-contained on a machine with no network but loopback.
 */

/** The browser: Debian's `chromium` package, or NOOPS_CHROMIUM. */
export const CHROMIUM = process.env.NOOPS_CHROMIUM ?? '/usr/bin/chromium';

/** No sandbox (tests run as root in CI), no GPU, and nothing that calls home. */
export function browserArgs(): string[] {
  return [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
  ];
}
