//! A minimal DER walker over raw bytes, for the few places where the exact bytes matter more
//! than a typed decoding: the signed part of a certificate (`tbsCertificate`), the precertificate
//! TBS an SCT signs (the certificate's TBS minus one extension, re-encoded), and CMS structures
//! whose signatures cover raw encodings (`signedAttrs`).
//!
//! Only single-byte tags and definite lengths are accepted (DER); lengths must be minimal.
//! Everything returns `None` on malformed input, never panics.

/// Universal tags used by the callers.
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;
pub(crate) const UTF8_STRING: u8 = 0x0c;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;

/// Context-specific constructed tag `[n]`.
pub(crate) const fn context(n: u8) -> u8 {
    0xa0 | n
}

/// Context-specific primitive tag `[n]`.
pub(crate) const fn context_primitive(n: u8) -> u8 {
    0x80 | n
}

/// One TLV element.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tlv<'a> {
    /// The tag byte.
    pub(crate) tag: u8,
    /// The content octets.
    pub(crate) value: &'a [u8],
    /// The whole element: tag, length and content.
    pub(crate) raw: &'a [u8],
}

/// Reads one element from the front of `input`; returns it and the rest.
pub(crate) fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // multi-byte tags: not used by anything we parse
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None; // indefinite length (BER) or absurd
        }
        let (len_bytes, after) = rest.split_at(n);
        if len_bytes[0] == 0 {
            return None; // not minimal
        }
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        if len < 0x80 {
            return None; // not minimal
        }
        rest = after;
        len
    };
    if rest.len() < len {
        return None;
    }
    let (value, after) = rest.split_at(len);
    let header = input.len() - rest.len();
    let raw = input.get(..header + len)?;
    Some((Tlv { tag, value, raw }, after))
}

/// Reads exactly one element of `tag` filling all of `input`.
pub(crate) fn read_only(input: &[u8], tag: u8) -> Option<Tlv<'_>> {
    let (tlv, rest) = read(input)?;
    (tlv.tag == tag && rest.is_empty()).then_some(tlv)
}

/// A cursor over the elements inside a constructed value.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(value: &'a [u8]) -> Self {
        Reader { rest: value }
    }

    /// The next element, whatever its tag.
    pub(crate) fn next_any(&mut self) -> Option<Tlv<'a>> {
        let (tlv, rest) = read(self.rest)?;
        self.rest = rest;
        Some(tlv)
    }

    /// The next element, which must have `tag`.
    pub(crate) fn next(&mut self, tag: u8) -> Option<Tlv<'a>> {
        let (tlv, rest) = read(self.rest)?;
        if tlv.tag != tag {
            return None;
        }
        self.rest = rest;
        Some(tlv)
    }

    /// The next element if it has `tag`; `None` (consuming nothing) otherwise.
    pub(crate) fn optional(&mut self, tag: u8) -> Option<Tlv<'a>> {
        match read(self.rest) {
            Some((tlv, rest)) if tlv.tag == tag => {
                self.rest = rest;
                Some(tlv)
            }
            _ => None,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// Decodes an OBJECT IDENTIFIER element's content.
pub(crate) fn oid(tlv: Tlv<'_>) -> Option<der::asn1::ObjectIdentifier> {
    if tlv.tag != OID {
        return None;
    }
    der::asn1::ObjectIdentifier::from_bytes(tlv.value).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trips_short_and_long_lengths() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let value = vec![7u8; len];
            // Encoded by the der crate: an independent encoder.
            let out =
                der::Encode::to_der(&der::asn1::OctetStringRef::new(&value).unwrap()).unwrap();
            let (tlv, rest) = read(&out).unwrap();
            assert!(rest.is_empty());
            assert_eq!(tlv.tag, OCTET_STRING);
            assert_eq!(tlv.value, &value[..]);
            assert_eq!(tlv.raw, &out[..]);
        }
    }

    #[test]
    fn rejects_non_der_lengths() {
        assert!(read(&[0x04, 0x80]).is_none()); // indefinite
        assert!(read(&[0x04, 0x81, 0x05, 0, 0, 0, 0, 0]).is_none()); // non-minimal
        assert!(read(&[0x04, 0x82, 0x00, 0x80]).is_none()); // leading zero
        assert!(read(&[0x04, 0x05, 0]).is_none()); // truncated
        assert!(read(&[0x1f, 0x01, 0]).is_none()); // multi-byte tag
        assert!(read(&[]).is_none());
    }
}
