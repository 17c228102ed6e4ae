/**
 * A minimal HTTP client that keeps cookies the way a browser does for one origin (enough for the
 * dashboard tests): what `Set-Cookie` sets, expires or clears is sent back on the next request.
 */
export interface PageResult {
  status: number;
  headers: Headers;
  text: string;
  /** the raw `Set-Cookie` lines of this response */
  setCookies: string[];
}

/** Servers clear a cookie with an expiry in 1970; the tests' own clock runs in 2026, whatever the real date. */
const CLEARED_BEFORE = Date.parse('2000-01-01T00:00:00Z');

export class CookieClient {
  readonly jar = new Map<string, string>();

  constructor(readonly base: string) {}

  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(method: string, path: string, options: { form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<PageResult> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.jar.size > 0) headers.cookie = this.cookieHeader();
    let body: string | undefined;
    if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    }
    const response = await fetch(`${this.base}${path}`, { method, headers, body, redirect: 'manual' });
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';').map((p) => p.trim());
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      const expires = attributes.find((a) => a.toLowerCase().startsWith('expires='));
      const gone = value === '' || (expires !== undefined && Date.parse(expires.slice(8)) < CLEARED_BEFORE) || attributes.some((a) => /^max-age=0$/i.test(a));
      if (gone) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return { status: response.status, headers: response.headers, text: await response.text(), setCookies };
  }

  get(path: string, headers?: Record<string, string>): Promise<PageResult> {
    return this.request('GET', path, { headers });
  }

  post(path: string, form: Record<string, string>, headers?: Record<string, string>): Promise<PageResult> {
    return this.request('POST', path, { form, headers });
  }
}

/** The CSRF token of the first form of a page. */
export function csrfOf(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error('no CSRF token in the page');
  return match[1]!;
}
