// Writing JSON strings the way Go's encoding/json does (json.Marshal), so that answers built with it
// match Higress's byte for byte: `"` and `\` escaped, \b \f \n \r \t short forms, other control
// characters as \u00XX, `<` `>` `&` as \u003c \u003e \u0026 (HTML-safe), U+2028/U+2029 escaped,
// and a lone surrogate (invalid UTF-8 in Go's terms) as \ufffd.

const HEX = "0123456789abcdef";

function hex4(c: u32): string {
  return "\\u" + HEX.charAt(<i32>(c >> 12) & 15) + HEX.charAt(<i32>(c >> 8) & 15) +
    HEX.charAt(<i32>(c >> 4) & 15) + HEX.charAt(<i32>c & 15);
}

@inline
function needsEscape(c: u32): bool {
  return c < 0x20 || c == 0x22 || c == 0x5c || c == 0x3c || c == 0x3e || c == 0x26 ||
    c == 0x2028 || c == 0x2029 || (c >= 0xd800 && c <= 0xdfff);
}

export function quoteJsonString(s: string): string {
  const n = s.length;
  let i = 0;
  while (i < n && !needsEscape(<u32>s.charCodeAt(i))) i++;
  if (i == n) return "\"" + s + "\"";

  const parts = new Array<string>();
  parts.push("\"");
  let from = 0;
  for (i = 0; i < n; i++) {
    const c = <u32>s.charCodeAt(i);
    if (!needsEscape(c)) continue;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = <u32>s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { i++; continue; } // a valid pair passes through
    }
    if (i > from) parts.push(s.substring(from, i));
    from = i + 1;
    if (c == 0x22) parts.push("\\\"");
    else if (c == 0x5c) parts.push("\\\\");
    else if (c == 0x08) parts.push("\\b");
    else if (c == 0x0c) parts.push("\\f");
    else if (c == 0x0a) parts.push("\\n");
    else if (c == 0x0d) parts.push("\\r");
    else if (c == 0x09) parts.push("\\t");
    else if (c >= 0xd800 && c <= 0xdfff) parts.push("\\ufffd");
    else parts.push(hex4(c));
  }
  if (from < n) parts.push(s.substring(from, n));
  parts.push("\"");
  return parts.join("");
}
