// Telegram's HTML parse mode knows four named entities and every numeric one; anything else after
// `&` is taken literally (or refused), so counting it as typed can only over-estimate.
const ENTITY = /&(?:(lt|gt|amp|quot)|#(\d+)|#[xX]([0-9a-fA-F]+));/g;
const TAG = /<[^<>]*>/g;

/**
 * The length of an HTML parse-mode text as Telegram measures it against its 4096 limit: the text
 * after entity parsing (tags count 0, an entity counts as the character it stands for), in UTF-16
 * code units (so an emoji outside the BMP counts 2, like a JavaScript string).
 *
 * It assumes well-formed input, as our renderers produce; for text Telegram would refuse (an
 * unclosed tag) it counts the raw characters, which errs long, never short.
 */
export function telegramVisibleLength(html: string): number {
  return html.replace(TAG, '').replace(ENTITY, (raw, _named: string | undefined, decimal: string | undefined, hex: string | undefined) => {
    if (decimal === undefined && hex === undefined) return '.';
    const codePoint = decimal !== undefined ? Number(decimal) : Number.parseInt(hex!, 16);
    // Astral code points take two UTF-16 units; out-of-range numbers are not characters at all.
    if (codePoint > 0x10ffff) return raw;
    return codePoint > 0xffff ? '..' : '.';
  }).length;
}
