//! Compact Mesos JSON output into a byte buffer.

use super::{JsonEnum, MesosJson};
use base64::Engine as _;
use std::collections::BTreeMap;

/// Writes Mesos JSON into a growing buffer.
///
/// Generated `MesosJson` impls drive it; use [`crate::json::to_vec`] or
/// [`crate::json::to_string`] rather than this type directly.
#[derive(Debug, Default)]
pub struct JsonWriter {
    buf: Vec<u8>,
    /// True right after `{` or `[`: the next member needs no comma.
    first: bool,
    /// Where a streaming writer hands its bytes.
    sink: Option<Sink>,
}

/// A streaming writer's destination: `send` gets the buffer each time it
/// holds `chunk` bytes or more, and gives back the one to go on in.
struct Sink {
    chunk: usize,
    send: Box<dyn FnMut(Vec<u8>) -> Vec<u8> + Send>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink").field("chunk", &self.chunk).finish()
    }
}

impl JsonWriter {
    /// A writer with an empty buffer.
    pub fn new() -> JsonWriter {
        JsonWriter::default()
    }

    /// A writer appending to `buf`.
    pub fn with_buffer(buf: Vec<u8>) -> JsonWriter {
        JsonWriter {
            buf,
            first: false,
            sink: None,
        }
    }

    /// A writer that hands what it wrote to `send` in pieces of about
    /// `chunk` bytes (at the start of an array element once `chunk` bytes
    /// are waiting), so a large document can be sent while it is written;
    /// [`JsonWriter::into_inner`] returns the last piece. It writes in
    /// `buf` first; `send` gives back the buffer to write on in. Both are
    /// best empty with room for a piece: buffers recycled from earlier
    /// pieces spare the kernel zeroing fresh pages for each.
    ///
    /// ```
    /// use mesos_proto::json::JsonWriter;
    /// let pieces = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    /// let out = std::sync::Arc::clone(&pieces);
    /// let mut w = JsonWriter::streaming(Vec::new(), 8, move |piece| {
    ///     out.lock().unwrap().push(piece);
    ///     Vec::new()
    /// });
    /// w.begin_array();
    /// for i in 0..10 {
    ///     w.element();
    ///     w.i64(i);
    /// }
    /// w.end_array();
    /// let mut all: Vec<u8> = pieces.lock().unwrap().concat();
    /// all.extend(w.into_inner());
    /// assert_eq!(all, b"[0,1,2,3,4,5,6,7,8,9]");
    /// assert!(pieces.lock().unwrap().len() >= 2);
    /// ```
    pub fn streaming(
        mut buf: Vec<u8>,
        chunk: usize,
        send: impl FnMut(Vec<u8>) -> Vec<u8> + Send + 'static,
    ) -> JsonWriter {
        buf.clear();
        JsonWriter {
            buf,
            first: false,
            sink: Some(Sink {
                chunk,
                send: Box::new(send),
            }),
        }
    }

    /// The bytes written so far (for a streaming writer: since the last
    /// piece it handed on).
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    /// Hands the buffer on if this writer streams and enough is waiting.
    fn spill(&mut self) {
        if let Some(sink) = &mut self.sink {
            if self.buf.len() >= sink.chunk {
                let full = std::mem::take(&mut self.buf);
                self.buf = (sink.send)(full);
                self.buf.clear();
            }
        }
    }

    /// Starts an object.
    pub fn begin_object(&mut self) {
        self.buf.push(b'{');
        self.first = true;
    }

    /// Ends an object.
    pub fn end_object(&mut self) {
        self.buf.push(b'}');
        self.first = false;
    }

    /// Writes a member name, escaped when it needs to be.
    pub fn key(&mut self, name: &str) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        if name.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
            self.string(name);
            self.buf.push(b':');
        } else {
            self.buf.push(b'"');
            self.buf.extend_from_slice(name.as_bytes());
            self.buf.extend_from_slice(b"\":");
        }
    }

    /// Writes a member: its name and value.
    ///
    /// With [`JsonWriter::begin_array`] and [`JsonWriter::value`] this
    /// builds any JSON document, not only messages:
    ///
    /// ```
    /// use mesos_proto::json::JsonWriter;
    ///
    /// let mut w = JsonWriter::new();
    /// w.begin_object();
    /// w.field("name", &"a \"b\"".to_string());
    /// w.key("ids");
    /// w.begin_array();
    /// w.value(&1.5f64);
    /// w.value(&true);
    /// w.end_array();
    /// w.end_object();
    /// assert_eq!(String::from_utf8(w.into_inner()).unwrap(), r#"{"name":"a \"b\"","ids":[1.5,true]}"#);
    /// ```
    pub fn field<T: MesosJson>(&mut self, name: &str, value: &T) {
        self.key(name);
        value.write_json(self);
    }

    /// Writes a string member without the `String` that
    /// [`JsonWriter::field`] would need.
    ///
    /// ```
    /// use mesos_proto::json::JsonWriter;
    /// let mut w = JsonWriter::new();
    /// w.begin_object();
    /// w.str_field("id", "a\"b");
    /// w.end_object();
    /// assert_eq!(w.into_inner(), br#"{"id":"a\"b"}"#);
    /// ```
    pub fn str_field(&mut self, name: &str, value: &str) {
        self.key(name);
        self.string(value);
    }

    /// Starts an array; add elements with [`JsonWriter::value`] (or
    /// [`JsonWriter::element`] before an object or array).
    pub fn begin_array(&mut self) {
        self.buf.push(b'[');
        self.first = true;
    }

    /// Ends an array.
    pub fn end_array(&mut self) {
        self.buf.push(b']');
        self.first = false;
    }

    /// Writes a value that is JSON already (a document kept from
    /// before), after [`JsonWriter::key`] or [`JsonWriter::element`]. It
    /// is not checked.
    pub fn raw(&mut self, json: &[u8]) {
        self.buf.extend_from_slice(json);
        self.first = false;
        self.spill();
    }

    /// Writes one element of an array.
    pub fn value<T: MesosJson>(&mut self, value: &T) {
        self.element();
        value.write_json(self);
    }

    /// Starts the next element of an array (writes the comma if needed);
    /// follow it with an object, an array or a value's `write_json`.
    pub fn element(&mut self) {
        self.spill();
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
    }

    /// Writes an array of values.
    pub fn list<T: MesosJson>(&mut self, values: &[T]) {
        self.buf.push(b'[');
        self.first = true;
        for v in values {
            self.element();
            v.write_json(self);
        }
        self.buf.push(b']');
        self.first = false;
    }

    /// Writes a map field as an object.
    pub fn map<V: MesosJson>(&mut self, map: &BTreeMap<String, V>) {
        self.buf.push(b'{');
        self.first = true;
        for (k, v) in map {
            self.element();
            self.string(k);
            self.buf.push(b':');
            v.write_json(self);
        }
        self.buf.push(b'}');
        self.first = false;
    }

    /// Writes a `bytes` value as standard base64.
    pub fn bytes(&mut self, value: &[u8]) {
        self.buf.push(b'"');
        let start = self.buf.len();
        let encoded_len = value.len().div_ceil(3) * 4;
        self.buf.resize(start + encoded_len, 0);
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(value, &mut self.buf[start..])
            .unwrap_or(0);
        self.buf.truncate(start + n);
        self.buf.push(b'"');
    }

    /// Writes an array of `bytes` values.
    pub fn bytes_list(&mut self, values: &[Vec<u8>]) {
        self.buf.push(b'[');
        self.first = true;
        for v in values {
            self.element();
            self.bytes(v);
        }
        self.buf.push(b']');
        self.first = false;
    }

    /// Writes an enum value by name; a number the enum does not define is
    /// written as a number.
    pub fn enumeration<E: JsonEnum>(&mut self, value: i32) {
        match E::json_name(value) {
            Some(name) => {
                self.buf.push(b'"');
                self.buf.extend_from_slice(name.as_bytes());
                self.buf.push(b'"');
            }
            None => self.i64(i64::from(value)),
        }
    }

    /// Writes an array of enum values.
    pub fn enum_list<E: JsonEnum>(&mut self, values: &[i32]) {
        self.buf.push(b'[');
        self.first = true;
        for v in values {
            self.element();
            self.enumeration::<E>(*v);
        }
        self.buf.push(b']');
        self.first = false;
    }

    /// Writes a signed integer.
    pub fn i64(&mut self, value: i64) {
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// Writes an unsigned integer.
    pub fn u64(&mut self, value: u64) {
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// Writes a double. JSON has no NaN or infinity: those are written as
    /// `null`, which reads back as "not set".
    pub fn f64(&mut self, value: f64) {
        if value.is_finite() {
            self.buf
                .extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
        } else {
            self.buf.extend_from_slice(b"null");
        }
    }

    /// Writes a boolean.
    pub fn bool(&mut self, value: bool) {
        self.buf
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    /// Writes a string with JSON escaping. Non-ASCII text is written as UTF-8.
    pub fn string(&mut self, value: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.buf.push(b'"');
        let bytes = value.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let escape: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0x00..=0x1f => b"",
                _ => continue,
            };
            self.buf.extend_from_slice(&bytes[start..i]);
            if escape.is_empty() {
                self.buf.extend_from_slice(b"\\u00");
                self.buf.push(HEX[usize::from(b >> 4)]);
                self.buf.push(HEX[usize::from(b & 0xf)]);
            } else {
                self.buf.extend_from_slice(escape);
            }
            start = i + 1;
        }
        self.buf.extend_from_slice(&bytes[start..]);
        self.buf.push(b'"');
    }
}
