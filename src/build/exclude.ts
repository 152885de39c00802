/** The `exclude` paths of noops.yaml: small globs over paths relative to the repository root. */

/**
 * A matcher for `exclude` patterns. Paths and patterns use `/` and are relative to the root.
 * `*` and `?` match within one segment, `**` across segments; a pattern that matches a
 * directory excludes everything in it. `.git` is not special here (the packer drops it).
 *
 * @example
 *   const excluded = excludeMatcher(['docs', '*.md', '**\/*.log']);
 *   excluded('docs/a/b.txt') // true: inside docs
 *   excluded('README.md')    // true
 *   excluded('src/x.md')     // false: `*` does not cross "/"
 *   excluded('src/x.log')    // true
 */
export function excludeMatcher(patterns: readonly string[]): (relPath: string) => boolean {
  const regexes = patterns.map(globToRegExp);
  return (relPath) => {
    if (regexes.length === 0) return false;
    const segments = relPath.split('/');
    // the path itself, or any folder it is in
    for (let n = 1; n <= segments.length; n++) {
      const prefix = segments.slice(0, n).join('/');
      if (regexes.some((re) => re.test(prefix))) return true;
    }
    return false;
  };
}

/** `src/**\/*.test.js` -> /^src\/(?:.*\/)?[^/]*\.test\.js$/ */
export function globToRegExp(pattern: string): RegExp {
  const glob = pattern.replace(/^(?:\.\/)+/, '').replace(/\/+$/, '');
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      const slashAfter = glob[i + 2] === '/';
      re += slashAfter ? '(?:.*/)?' : '.*';
      i += slashAfter ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
