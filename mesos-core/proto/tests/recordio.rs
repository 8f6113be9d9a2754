//! RecordIO round-trips under any chunking, for the plain decoder and the
//! tokio codec, and refuses oversized records without allocating them.

use bytes::BytesMut;
use mesos_proto::recordio::{self, Decoder, RecordIoCodec, RecordIoError};
use proptest::prelude::*;
use tokio_util::codec::{Decoder as _, Encoder as _};

fn chunked(stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut last = 0;
    for p in points.into_iter().chain([stream.len()]) {
        chunks.push(stream[last..p].to_vec());
        last = p;
    }
    chunks
}

proptest! {
    #[test]
    fn plain_decoder_round_trips_under_any_chunking(
        records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        let mut stream = Vec::new();
        for r in &records {
            recordio::encode(r, &mut stream);
        }
        let mut d = Decoder::new(300);
        let mut out = Vec::new();
        for chunk in chunked(&stream, &cuts) {
            d.feed(&chunk);
            while let Some(r) = d.next_record().unwrap() {
                out.push(r);
            }
        }
        d.finish().unwrap();
        prop_assert_eq!(out, records);
    }

    #[test]
    fn codec_round_trips_under_any_chunking(
        records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        let mut codec = RecordIoCodec::new(300);
        let mut stream = BytesMut::new();
        for r in &records {
            codec.encode(r.as_slice(), &mut stream).unwrap();
        }
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunked(&stream, &cuts) {
            buf.extend_from_slice(&chunk);
            while let Some(r) = codec.decode(&mut buf).unwrap() {
                out.push(r.to_vec());
            }
        }
        prop_assert!(codec.decode_eof(&mut buf).unwrap().is_none());
        prop_assert_eq!(out, records);
    }
}

#[test]
fn codec_refuses_oversized_and_truncated_streams() {
    let mut codec = RecordIoCodec::new(1024);
    let mut buf = BytesMut::from(&b"18446744073709551615\n"[..]);
    let err = codec.decode(&mut buf).unwrap_err();
    assert!(
        matches!(
            err,
            RecordIoError::RecordTooLarge {
                size: u64::MAX,
                max: 1024
            }
        ),
        "{err}"
    );
    // Nothing was reserved for the announced size.
    assert!(buf.capacity() < 4096);

    let mut buf = BytesMut::from(&b"10\nabc"[..]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    let err = codec.decode_eof(&mut buf).unwrap_err();
    assert_eq!(
        err.to_string(),
        "RecordIO stream ended inside a record: 6 bytes of an incomplete record"
    );
}

#[test]
fn mesos_event_stream_shape() {
    // What a Mesos master sends: length, newline, JSON event.
    let mut stream = Vec::new();
    recordio::encode(br#"{"type":"HEARTBEAT"}"#, &mut stream);
    assert_eq!(stream, b"20\n{\"type\":\"HEARTBEAT\"}");
}
