/**
 * Removing passwords from everything the CLI prints: a database password is never printed,
 * whatever error message or detail carries it.
 */
import { redactUrl } from '@offloop/core';

/**
 * Removes passwords from printed text: of any `postgres://user:password@` URL, of `password=`
 * parameters, and of the URLs the configuration named, wherever they appear.
 */
export class Redactor {
  readonly #secrets = new Set<string>();

  /** Also redact this URL's password wherever it appears on its own. */
  add(url: string): void {
    let password: string;
    try {
      password = new URL(url).password;
    } catch {
      return;
    }
    if (password === '') return;
    // A password that is short, or that also occurs in the rest of the URL (the embedded
    // server's postgres:postgres), would blank out ordinary text; the URL patterns still
    // catch it inside URLs.
    const rest = redactUrl(url);
    for (const form of new Set([
      password,
      safeDecode(password),
      JSON.stringify(safeDecode(password)).slice(1, -1),
    ])) {
      if (form.length >= 6 && !rest.includes(form)) this.#secrets.add(form);
    }
  }

  redact(text: string): string {
    let result = text
      .replace(/(postgres(?:ql)?:\/\/[^\s:@/]*:)[^\s@/]*@/gi, '$1***@')
      .replace(/([?&](?:ssl)?password=)[^&\s"']*/gi, '$1***');
    for (const secret of this.#secrets) result = result.split(secret).join('***');
    return result;
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
