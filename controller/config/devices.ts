// Device selection by name glob: '*', '?' and '[...]' ('[!...]' negates). exclude wins.

export function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      const neg = body.startsWith('!');
      if (neg) body = body.slice(1);
      re += '[' + (neg ? '^' : '') + body.replace(/[\\\]^]/g, '\\$&') + ']';
      i = end;
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

export function globMatch(glob: string, name: string): boolean {
  return globToRegExp(glob).test(name);
}

export function deviceSelected(sel: { include: string[]; exclude: string[] }, ifname: string): boolean {
  return sel.include.some((g) => globMatch(g, ifname)) && !sel.exclude.some((g) => globMatch(g, ifname));
}
