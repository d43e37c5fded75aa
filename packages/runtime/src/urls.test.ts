import { describe, expect, it } from 'vitest';
import { hasUserinfo, httpUrl, redactUrl, redactUrlsIn } from './urls.js';

describe('redactUrl', () => {
  it('keeps scheme, host, port and path; drops user, password, query and fragment', () => {
    expect(redactUrl('https://ops:s3cret@billing.internal:8443/hooks/in?token=t0k#x')).toBe(
      'https://billing.internal:8443/hooks/in',
    );
    expect(redactUrl('redis://:s3cret@redis:6379/2')).toBe('redis://redis:6379/2');
    expect(redactUrl('rediss://default:s3cret@cache.example.com:6380')).toBe('rediss://cache.example.com:6380');
    expect(redactUrl('not a url s3cret')).toBe('(unparseable URL)');
  });
});

describe('redactUrlsIn', () => {
  it('redacts every URL a library quoted in its message, and leaves the rest of it', () => {
    // What fetch (undici) says when it is given a URL with credentials.
    const message =
      'Request cannot be constructed from a URL that includes credentials: http://ops:s3cret@127.0.0.1:9/hooks?token=t0k';
    expect(redactUrlsIn(message)).toBe(
      'Request cannot be constructed from a URL that includes credentials: http://127.0.0.1:9/hooks',
    );
    expect(redactUrlsIn('connect ECONNREFUSED 127.0.0.1:9')).toBe('connect ECONNREFUSED 127.0.0.1:9');
    expect(redactUrlsIn('"https://a:b@x.test/p" then "http://y.test/?k=v"')).toBe(
      '"https://x.test/p" then "http://y.test/"',
    );
  });
});

describe('httpUrl', () => {
  const schema = httpUrl('the target checks the signature');
  it('refuses user:password@ (and a user alone), saying where the credential belongs, never echoing it', () => {
    for (const url of ['https://ops:s3cret@billing.internal/hooks', 'https://ops@billing.internal/hooks']) {
      expect(hasUserinfo(url)).toBe(true);
      const result = schema.safeParse(url);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toBe(
        'must not carry a user name or password (user:password@…): the target checks the signature',
      );
      expect(JSON.stringify(result.error?.issues)).not.toContain('s3cret');
    }
  });

  it('takes plain http(s) URLs, a query too, and refuses other schemes', () => {
    expect(schema.safeParse('https://billing.internal/hooks?tenant=1').success).toBe(true);
    expect(schema.safeParse('ftp://billing.internal/').error?.issues[0]?.message).toBe('must be an http(s) URL');
  });
});
