//! The vpcd wire framing: every message in both directions is a 2-byte big-endian length
//! followed by that many bytes. Public so that tests can play the reader side.

use std::io::{self, Read, Write};

/// Writes one length-prefixed message.
///
/// Fails with [`io::ErrorKind::InvalidInput`] for a message longer than 65535 bytes.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u16::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "vpcd message too long"))?;
    let mut buf = Vec::with_capacity(payload.len() + 2);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(payload);
    w.write_all(&buf)?;
    w.flush()
}

/// Reads one length-prefixed message. `Ok(None)` when the peer closed the connection
/// cleanly between messages.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut payload = vec![0u8; usize::from(u16::from_be_bytes(len))];
    r.read_exact(&mut payload)?;
    Ok(Some(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reports_clean_eof() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &[0x04]).unwrap();
        write_frame(&mut buf, &[]).unwrap();
        write_frame(&mut buf, &[1; 300]).unwrap();
        assert_eq!(&buf[..3], &[0, 1, 4]);
        assert_eq!(&buf[5..7], &[1, 44]);
        let mut r = &buf[..];
        assert_eq!(read_frame(&mut r).unwrap(), Some(vec![0x04]));
        assert_eq!(read_frame(&mut r).unwrap(), Some(vec![]));
        assert_eq!(read_frame(&mut r).unwrap(), Some(vec![1; 300]));
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }

    #[test]
    fn truncated_message_is_an_error_and_oversize_is_refused() {
        let mut r: &[u8] = &[0, 5, 1, 2];
        assert!(read_frame(&mut r).is_err());
        assert!(write_frame(&mut Vec::new(), &vec![0; 70_000]).is_err());
    }
}
