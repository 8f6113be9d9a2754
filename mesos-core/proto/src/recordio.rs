//! RecordIO, the framing of Mesos' streaming responses: each record is its
//! length in decimal, a newline, then that many bytes.
//!
//! ```text
//! 21\n{"type":"HEARTBEAT"}
//! ```
//!
//! [`encode`] frames one record; [`Decoder`] takes the stream in chunks of
//! any size and yields whole records; with the `codec` feature,
//! [`RecordIoCodec`] does the same as a `tokio_util::codec`. Both refuse a
//! record longer than their maximum before allocating anything for it.
//!
//! ```
//! use mesos_proto::recordio::{self, Decoder};
//!
//! let mut stream = Vec::new();
//! recordio::encode(b"hello", &mut stream);
//! recordio::encode(b"", &mut stream);
//! assert_eq!(stream, b"5\nhello0\n");
//!
//! let mut decoder = Decoder::new(1024);
//! let mut records = Vec::new();
//! for chunk in stream.chunks(3) {
//!     decoder.feed(chunk);
//!     while let Some(record) = decoder.next_record().unwrap() {
//!         records.push(record);
//!     }
//! }
//! decoder.finish().unwrap();
//! assert_eq!(records, [b"hello".to_vec(), Vec::new()]);
//! ```

/// The default largest record accepted: 64 MiB, well above a large
/// `GET_STATE` response and far below what a bad header could ask for.
pub const DEFAULT_MAX_RECORD_SIZE: usize = 64 * 1024 * 1024;

/// The longest header accepted: 20 digits hold any `u64`.
const MAX_HEADER_DIGITS: usize = 20;

/// A malformed RecordIO stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordIoError {
    /// The header announces a record longer than the decoder accepts.
    #[error("RecordIO record of at least {size} bytes exceeds the maximum of {max} bytes")]
    RecordTooLarge {
        /// The announced size (its digits received so far).
        size: u64,
        /// The decoder's maximum.
        max: usize,
    },
    /// The header is not a decimal length followed by a newline.
    #[error("invalid RecordIO header {header:?}: expected a decimal length and a newline")]
    InvalidHeader {
        /// The offending header bytes (lossily decoded, at most 21 bytes).
        header: String,
    },
    /// The stream ended inside a record.
    #[error("RecordIO stream ended inside a record: {buffered} bytes of an incomplete record")]
    Truncated {
        /// Bytes buffered when the stream ended.
        buffered: usize,
    },
    /// The underlying stream failed (codec use only).
    #[error("RecordIO stream failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Appends `record`, framed, to `out`.
pub fn encode(record: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(record.len()).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(record);
}

/// Parses the header at the start of `buf`: `Ok(None)` if more bytes are
/// needed, else the header's length (with its newline) and the record's.
fn parse_header(buf: &[u8], max: usize) -> Result<Option<(usize, usize)>, RecordIoError> {
    let invalid = |end: usize| RecordIoError::InvalidHeader {
        header: String::from_utf8_lossy(&buf[..end.min(buf.len())]).into_owned(),
    };
    let mut size: u64 = 0;
    let too_large = |size: u64| RecordIoError::RecordTooLarge { size, max };
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'\n' if i > 0 => {
                let size = usize::try_from(size)
                    .ok()
                    .filter(|s| *s <= max)
                    .ok_or(too_large(size))?;
                return Ok(Some((i + 1, size)));
            }
            b'0'..=b'9' if i < MAX_HEADER_DIGITS => {
                size = size
                    .checked_mul(10)
                    .and_then(|s| s.checked_add(u64::from(b - b'0')))
                    .ok_or_else(|| invalid(i + 1))?;
            }
            _ if size > max as u64 => return Err(too_large(size)),
            _ => return Err(invalid(i + 1)),
        }
    }
    // Refuse as soon as the digits so far are too many: no need to wait
    // for the rest of the header, let alone the body.
    if size > max as u64 {
        return Err(too_large(size));
    }
    Ok(None)
}

/// An incremental RecordIO decoder over chunks of any size.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Start of unconsumed bytes in `buf`.
    start: usize,
    max: usize,
    failed: bool,
}

impl Decoder {
    /// A decoder accepting records of at most `max_record_size` bytes.
    pub fn new(max_record_size: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            start: 0,
            max: max_record_size,
            failed: false,
        }
    }

    /// Adds the next chunk of the stream.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole record, if one is buffered. After an error the stream
    /// is unusable and every call returns an error.
    pub fn next_record(&mut self) -> Result<Option<Vec<u8>>, RecordIoError> {
        if self.failed {
            return Err(RecordIoError::InvalidHeader {
                header: "<stream already failed>".into(),
            });
        }
        let pending = &self.buf[self.start..];
        match parse_header(pending, self.max) {
            Ok(Some((header, size))) if pending.len() - header >= size => {
                let record = pending[header..header + size].to_vec();
                self.start += header + size;
                Ok(Some(record))
            }
            Ok(_) => Ok(None),
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }

    /// Checks that the stream ended between records.
    pub fn finish(&self) -> Result<(), RecordIoError> {
        match self.buf.len() - self.start {
            0 => Ok(()),
            buffered => Err(RecordIoError::Truncated { buffered }),
        }
    }
}

#[cfg(feature = "codec")]
mod codec {
    use super::{DEFAULT_MAX_RECORD_SIZE, RecordIoError, parse_header};
    use bytes::{Bytes, BytesMut};

    /// RecordIO as a `tokio_util::codec` decoder and encoder, for framing
    /// Mesos streams over any `AsyncRead`/`AsyncWrite`.
    #[derive(Debug, Clone)]
    pub struct RecordIoCodec {
        max: usize,
    }

    impl RecordIoCodec {
        /// A codec accepting records of at most `max_record_size` bytes.
        pub fn new(max_record_size: usize) -> RecordIoCodec {
            RecordIoCodec {
                max: max_record_size,
            }
        }
    }

    impl Default for RecordIoCodec {
        fn default() -> Self {
            RecordIoCodec::new(DEFAULT_MAX_RECORD_SIZE)
        }
    }

    impl tokio_util::codec::Decoder for RecordIoCodec {
        type Item = Bytes;
        type Error = RecordIoError;

        fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, RecordIoError> {
            let Some((header, size)) = parse_header(src, self.max)? else {
                return Ok(None);
            };
            if src.len() - header < size {
                src.reserve(header + size - src.len());
                return Ok(None);
            }
            let mut frame = src.split_to(header + size);
            Ok(Some(frame.split_off(header).freeze()))
        }

        fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, RecordIoError> {
            match self.decode(src)? {
                Some(record) => Ok(Some(record)),
                None if src.is_empty() => Ok(None),
                None => Err(RecordIoError::Truncated {
                    buffered: src.len(),
                }),
            }
        }
    }

    impl<T: AsRef<[u8]>> tokio_util::codec::Encoder<T> for RecordIoCodec {
        type Error = RecordIoError;

        fn encode(&mut self, record: T, dst: &mut BytesMut) -> Result<(), RecordIoError> {
            let record = record.as_ref();
            dst.reserve(record.len() + 21);
            dst.extend_from_slice(itoa::Buffer::new().format(record.len()).as_bytes());
            dst.extend_from_slice(b"\n");
            dst.extend_from_slice(record);
            Ok(())
        }
    }
}

#[cfg(feature = "codec")]
pub use codec::RecordIoCodec;

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(stream: &[u8], chunk: usize, max: usize) -> Result<Vec<Vec<u8>>, RecordIoError> {
        let mut d = Decoder::new(max);
        let mut out = Vec::new();
        for c in stream.chunks(chunk.max(1)) {
            d.feed(c);
            while let Some(r) = d.next_record()? {
                out.push(r);
            }
        }
        d.finish()?;
        Ok(out)
    }

    #[test]
    fn oversized_length_is_refused_before_the_body_arrives() {
        let err = decode_all(b"999999999999\n", 1, 1024).unwrap_err();
        assert!(
            matches!(err, RecordIoError::RecordTooLarge { max: 1024, .. }),
            "{err}"
        );
        // Refused on the digits alone, without waiting for the newline.
        let mut d = Decoder::new(10);
        d.feed(b"123");
        assert!(matches!(
            d.next_record(),
            Err(RecordIoError::RecordTooLarge { size: 123, max: 10 })
        ));
    }

    #[test]
    fn bad_headers_are_named() {
        for bad in [
            &b"\n"[..],
            b"abc\n",
            b"-1\n",
            b" 5\nhello",
            b"5x\nhello",
            b"123456789012345678901\n",
        ] {
            let err = decode_all(bad, 2, usize::MAX).unwrap_err();
            assert!(
                matches!(
                    err,
                    RecordIoError::InvalidHeader { .. } | RecordIoError::RecordTooLarge { .. }
                ),
                "{bad:?}: {err}"
            );
        }
        let err = decode_all(b"abc\n", 8, 100).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid RecordIO header \"a\": expected a decimal length and a newline"
        );
    }

    #[test]
    fn truncated_stream_is_an_error() {
        let err = decode_all(b"5\nhel", 2, 100).unwrap_err();
        assert!(
            matches!(err, RecordIoError::Truncated { buffered: 5 }),
            "{err}"
        );
    }
}
