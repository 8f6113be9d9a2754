//! A pull parser for Mesos JSON that keeps the path of what it is reading,
//! so every error names the field it is about.

use super::{JsonEnum, JsonError, MesosJson};
use base64::Engine as _;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// How deeply arrays and objects may nest. Mesos messages nest about a dozen
/// levels; this bound keeps hostile input from exhausting the stack.
pub const MAX_DEPTH: usize = 128;

#[derive(Debug)]
enum Frame {
    Object {
        /// The current member's name, as a span of the input.
        key: Option<(usize, usize)>,
        /// The object's closing `}` will end it after at least one member.
        has_member: bool,
    },
    Array {
        index: usize,
    },
}

/// Reads Mesos JSON from a string.
///
/// Generated `MesosJson` impls drive it; use [`crate::json::from_slice`] or
/// [`crate::json::from_str`] rather than this type directly.
#[derive(Debug)]
pub struct JsonReader<'a> {
    src: &'a str,
    pos: usize,
    frames: Vec<Frame>,
}

impl<'a> JsonReader<'a> {
    /// A reader at the start of `src`.
    pub fn new(src: &'a str) -> JsonReader<'a> {
        JsonReader {
            src,
            pos: 0,
            frames: Vec::new(),
        }
    }

    /// Fails unless only whitespace is left.
    pub fn finish(&mut self) -> Result<(), JsonError> {
        self.skip_ws();
        if self.pos < self.src.len() {
            return Err(self.syntax("trailing characters after the JSON value"));
        }
        Ok(())
    }

    // ---- errors -------------------------------------------------------

    /// The path of the value being read, e.g. `offers[3].resources[0].scalar`.
    pub fn path(&self) -> String {
        let mut path = String::new();
        for frame in &self.frames {
            match frame {
                Frame::Object {
                    key: Some((s, e)), ..
                } => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(&self.src[*s..*e]);
                }
                Frame::Object { key: None, .. } => {}
                Frame::Array { index } => {
                    path.push('[');
                    path.push_str(itoa::Buffer::new().format(*index));
                    path.push(']');
                }
            }
        }
        path
    }

    /// An error about the value being read, carrying its path.
    pub fn error(&self, message: impl Into<String>) -> JsonError {
        JsonError::new(self.path(), message.into(), self.pos)
    }

    fn syntax(&self, what: &str) -> JsonError {
        let before = &self.src[..self.pos.min(self.src.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        self.error(format!(
            "invalid JSON at line {line} column {column}: {what}"
        ))
    }

    fn found(&self) -> &'static str {
        let rest = self.src.as_bytes().get(self.pos..).unwrap_or_default();
        let next = rest
            .iter()
            .find(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'));
        match next.copied() {
            Some(b'{') => "object",
            Some(b'[') => "array",
            Some(b'"') => "string",
            Some(b't' | b'f') => "boolean",
            Some(b'n') => "null",
            Some(b'-' | b'0'..=b'9') => "number",
            Some(b'}') => "`}`",
            Some(b']') => "`]`",
            Some(b',') => "`,`",
            Some(b':') => "`:`",
            Some(_) => "invalid JSON",
            None => "end of input",
        }
    }

    fn expected(&self, what: &str) -> JsonError {
        self.error(format!("expected {what}, found {}", self.found()))
    }

    // ---- tokens -------------------------------------------------------

    fn skip_ws(&mut self) {
        let bytes = self.src.as_bytes();
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.src.as_bytes().get(self.pos).copied()
    }

    fn literal(&mut self, word: &str) -> bool {
        if self.src[self.pos..].starts_with(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    fn push(&mut self, frame: Frame) -> Result<(), JsonError> {
        if self.frames.len() >= MAX_DEPTH {
            return Err(self.error(format!("JSON nests deeper than {MAX_DEPTH} levels")));
        }
        self.frames.push(frame);
        Ok(())
    }

    /// Reads a string token.
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        if self.peek() != Some(b'"') {
            return Err(self.expected("string"));
        }
        let (start, end, escaped) = self.string_span()?;
        let raw = &self.src[start..end];
        if !escaped {
            return Ok(Cow::Borrowed(raw));
        }
        self.unescape(raw, start).map(Cow::Owned)
    }

    /// Scans a string token at `pos` (on its `"`); returns its content span.
    fn string_span(&mut self) -> Result<(usize, usize, bool), JsonError> {
        let bytes = self.src.as_bytes();
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            match bytes.get(i) {
                None => {
                    self.pos = i;
                    return Err(self.syntax("unterminated string"));
                }
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    i += 2;
                }
                Some(0x00..=0x1f) => {
                    self.pos = i;
                    return Err(self.syntax("control character in string"));
                }
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        Ok((start, i, escaped))
    }

    fn unescape(&mut self, raw: &str, offset: usize) -> Result<String, JsonError> {
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let bad = |me: &mut Self, what: &str| {
                me.pos = offset + i;
                Err(me.syntax(what))
            };
            match chars.next().map(|(_, c)| c) {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('/') => out.push('/'),
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('u') => {
                    let Some(hi) = hex4(&raw[i + 2..]) else {
                        return bad(self, "invalid \\u escape");
                    };
                    for _ in 0..4 {
                        chars.next();
                    }
                    let code = if (0xD800..0xDC00).contains(&hi) {
                        let rest = &raw[i + 6..];
                        let lo = rest.strip_prefix("\\u").and_then(hex4);
                        match lo {
                            Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                                for _ in 0..6 {
                                    chars.next();
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            }
                            _ => return bad(self, "unpaired surrogate in \\u escape"),
                        }
                    } else {
                        hi
                    };
                    match char::from_u32(code) {
                        Some(c) => out.push(c),
                        None => return bad(self, "unpaired surrogate in \\u escape"),
                    }
                }
                _ => return bad(self, "invalid escape in string"),
            }
        }
        Ok(out)
    }

    /// Scans a number token; returns its text.
    fn number_token(&mut self) -> Result<&'a str, JsonError> {
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let mut i = start;
        let digits = |i: &mut usize| {
            let s = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > s
        };
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        if !digits(&mut i) || (bytes[int_start] == b'0' && i - int_start > 1) {
            self.pos = i;
            return Err(self.syntax("malformed number"));
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                self.pos = i;
                return Err(self.syntax("malformed number"));
            }
        }
        if let Some(b'e' | b'E') = bytes.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = bytes.get(i) {
                i += 1;
            }
            if !digits(&mut i) {
                self.pos = i;
                return Err(self.syntax("malformed number"));
            }
        }
        self.pos = i;
        Ok(&self.src[start..i])
    }

    // ---- structure, for generated code ---------------------------------

    /// Consumes `null` if it comes next.
    pub fn null(&mut self) -> bool {
        self.peek() == Some(b'n') && self.literal("null")
    }

    /// Enters an object.
    pub fn begin_object(&mut self) -> Result<(), JsonError> {
        if self.peek() != Some(b'{') {
            return Err(self.expected("object"));
        }
        self.pos += 1;
        self.push(Frame::Object {
            key: None,
            has_member: false,
        })
    }

    /// The next member's name, or `None` (and the object left) at its end.
    pub fn next_key(&mut self) -> Result<Option<Cow<'a, str>>, JsonError> {
        let has_member = match self.frames.last() {
            Some(Frame::Object { has_member, .. }) => *has_member,
            _ => return Err(self.error("next_key outside an object")),
        };
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                self.frames.pop();
                return Ok(None);
            }
            Some(b',') if has_member => {
                self.pos += 1;
                if self.peek() != Some(b'"') {
                    return Err(self.syntax("expected a member name after `,`"));
                }
            }
            Some(b'"') if !has_member => {}
            _ if has_member => return Err(self.syntax("expected `,` or `}`")),
            _ => return Err(self.syntax("expected a member name or `}`")),
        }
        let (start, end, escaped) = self.string_span()?;
        if let Some(Frame::Object { key, has_member }) = self.frames.last_mut() {
            *key = Some((start, end));
            *has_member = true;
        }
        if self.peek() != Some(b':') {
            return Err(self.syntax("expected `:` after member name"));
        }
        self.pos += 1;
        let raw = &self.src[start..end];
        if escaped {
            self.unescape(raw, start).map(Cow::Owned).map(Some)
        } else {
            Ok(Some(Cow::Borrowed(raw)))
        }
    }

    /// Skips a value of any kind (an unknown field's).
    pub fn skip(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            Some(b'{') => {
                self.begin_object()?;
                while self.next_key()?.is_some() {
                    self.skip()?;
                }
                Ok(())
            }
            Some(b'[') => self.array(|r| r.skip()),
            Some(b'"') => self.string().map(drop),
            Some(b't') if self.literal("true") => Ok(()),
            Some(b'f') if self.literal("false") => Ok(()),
            Some(b'n') if self.literal("null") => Ok(()),
            Some(b'-' | b'0'..=b'9') => self.number_token().map(drop),
            None => Err(self.syntax("unexpected end of input")),
            Some(_) => Err(self.syntax("expected a value")),
        }
    }

    /// Reads an array, calling `element` for each element.
    fn array(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        if self.peek() != Some(b'[') {
            return Err(self.expected("array"));
        }
        self.pos += 1;
        self.push(Frame::Array { index: 0 })?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.frames.pop();
            return Ok(());
        }
        loop {
            element(self)?;
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    if let Some(Frame::Array { index }) = self.frames.last_mut() {
                        *index += 1;
                    }
                }
                Some(b']') => {
                    self.pos += 1;
                    self.frames.pop();
                    return Ok(());
                }
                _ => return Err(self.syntax("expected `,` or `]`")),
            }
        }
    }

    /// Reads a value, or `None` for `null`.
    pub fn read_opt<T: MesosJson>(&mut self) -> Result<Option<T>, JsonError> {
        if self.null() {
            return Ok(None);
        }
        T::read_json(self).map(Some)
    }

    /// Reads an array of values; `null` is an empty array.
    pub fn read_list<T: MesosJson>(&mut self) -> Result<Vec<T>, JsonError> {
        let mut out = Vec::new();
        if self.null() {
            return Ok(out);
        }
        self.array(|r| {
            out.push(T::read_json(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Reads a map field (a JSON object); `null` is an empty map.
    pub fn read_map<V: MesosJson>(&mut self) -> Result<BTreeMap<String, V>, JsonError> {
        let mut out = BTreeMap::new();
        if self.null() {
            return Ok(out);
        }
        self.begin_object()?;
        while let Some(key) = self.next_key()? {
            let value = V::read_json(self)?;
            out.insert(key.into_owned(), value);
        }
        Ok(out)
    }

    /// Reads base64 `bytes`, or `None` for `null`.
    pub fn read_bytes_opt(&mut self) -> Result<Option<Vec<u8>>, JsonError> {
        if self.null() {
            return Ok(None);
        }
        self.read_bytes().map(Some)
    }

    /// Reads base64 `bytes` (standard alphabet, padding optional).
    pub fn read_bytes(&mut self) -> Result<Vec<u8>, JsonError> {
        if self.peek() != Some(b'"') {
            return Err(self.expected("base64 string"));
        }
        let text = self.string()?;
        BASE64
            .decode(text.as_bytes())
            .map_err(|e| self.error(format!("invalid base64: {e}")))
    }

    /// Reads an array of base64 `bytes`.
    pub fn read_bytes_list(&mut self) -> Result<Vec<Vec<u8>>, JsonError> {
        let mut out = Vec::new();
        if self.null() {
            return Ok(out);
        }
        self.array(|r| {
            out.push(r.read_bytes()?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Reads an enum value given by name or by number, or `None` for `null`.
    pub fn read_enum_opt<E: JsonEnum>(&mut self) -> Result<Option<i32>, JsonError> {
        if self.null() {
            return Ok(None);
        }
        self.read_enum::<E>().map(Some)
    }

    /// Reads an enum value given by name or by number.
    pub fn read_enum<E: JsonEnum>(&mut self) -> Result<i32, JsonError> {
        match self.peek() {
            Some(b'"') => {
                let name = self.string()?;
                E::from_json_name(&name)
                    .ok_or_else(|| self.error(format!("unknown enum value \"{name}\"")))
            }
            Some(b'-' | b'0'..=b'9') => self.read_i32(),
            _ => Err(self.expected("enum name or number")),
        }
    }

    /// Reads an array of enum values.
    pub fn read_enum_list<E: JsonEnum>(&mut self) -> Result<Vec<i32>, JsonError> {
        let mut out = Vec::new();
        if self.null() {
            return Ok(out);
        }
        self.array(|r| {
            out.push(r.read_enum::<E>()?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Fails naming each required field whose bit is missing from `seen`.
    pub fn check_required(&self, seen: u64, names: &[&str]) -> Result<(), JsonError> {
        let missing: Vec<&str> = names
            .iter()
            .enumerate()
            .filter(|(i, _)| seen & (1 << i) == 0)
            .map(|(_, n)| *n)
            .collect();
        match missing.as_slice() {
            [] => Ok(()),
            [one] => Err(self.error(format!("missing required field `{one}`"))),
            many => Err(self.error(format!("missing required fields `{}`", many.join("`, `")))),
        }
    }

    // ---- scalars ------------------------------------------------------

    /// Reads a string.
    pub fn read_string(&mut self) -> Result<String, JsonError> {
        self.string().map(Cow::into_owned)
    }

    /// Reads a boolean.
    pub fn read_bool(&mut self) -> Result<bool, JsonError> {
        match self.peek() {
            Some(b't') if self.literal("true") => Ok(true),
            Some(b'f') if self.literal("false") => Ok(false),
            _ => Err(self.expected("boolean")),
        }
    }

    /// Reads a double: a number, or a string holding one (also `NaN`,
    /// `Infinity`, `-Infinity`).
    pub fn read_f64(&mut self) -> Result<f64, JsonError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => {
                let token = self.number_token()?;
                token
                    .parse()
                    .map_err(|_| self.error(format!("malformed number {token}")))
            }
            Some(b'"') => {
                let text = self.string()?;
                match text.trim() {
                    "NaN" => Ok(f64::NAN),
                    "Infinity" => Ok(f64::INFINITY),
                    "-Infinity" => Ok(f64::NEG_INFINITY),
                    t => t
                        .parse()
                        .map_err(|_| self.error(format!("expected number, found \"{text}\""))),
                }
            }
            _ => Err(self.expected("number")),
        }
    }

    /// Reads an integer as `i128`, from a number or a quoted number.
    fn read_integer(&mut self, ty: &str) -> Result<i128, JsonError> {
        let (token, quoted) = match self.peek() {
            Some(b'-' | b'0'..=b'9') => (Cow::Borrowed(self.number_token()?), false),
            Some(b'"') => (self.string()?, true),
            _ => return Err(self.expected(&format!("{ty} number"))),
        };
        let text = token.trim();
        if let Ok(v) = text.parse::<i128>() {
            return Ok(v);
        }
        // `1e3` and `5.0` are integers too; `1.5` is not.
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1.8e19 => Ok(f as i128),
            _ if quoted => Err(self.error(format!("expected {ty}, found \"{text}\""))),
            _ => Err(self.error(format!("expected {ty}, found {text}"))),
        }
    }

    fn read_ranged<T: TryFrom<i128>>(&mut self, ty: &str) -> Result<T, JsonError> {
        let v = self.read_integer(ty)?;
        T::try_from(v).map_err(|_| self.error(format!("{v} is out of range for {ty}")))
    }

    /// Reads an `int32`.
    pub fn read_i32(&mut self) -> Result<i32, JsonError> {
        self.read_ranged("int32")
    }
    /// Reads an `int64`.
    pub fn read_i64(&mut self) -> Result<i64, JsonError> {
        self.read_ranged("int64")
    }
    /// Reads a `uint32`.
    pub fn read_u32(&mut self) -> Result<u32, JsonError> {
        self.read_ranged("uint32")
    }
    /// Reads a `uint64`.
    pub fn read_u64(&mut self) -> Result<u64, JsonError> {
        self.read_ranged("uint64")
    }
}

const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

fn hex4(s: &str) -> Option<u32> {
    let digits = s.get(..4)?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}
