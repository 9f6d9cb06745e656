//! The body of a telegram as data lines: `A-B:C.D.E(value)(value)...`.
//!
//! A data line may span several physical lines: DSMR 2.2/3 put the gas value of
//! `0-1:24.3.0` on the next line, which begins with `(`, and long text messages
//! (`0-0:96.13.0`) may be broken anywhere, leaving a `(` open. This module joins such pieces
//! back into one line before anyone reads values from it, so the dispatch never sees a
//! physical line break.

use std::borrow::Cow;

/// An OBIS reduced ID code `A-B:C.D.E`: A the medium (0 abstract, 1 electricity), B the
/// channel (0 the meter itself, 1..4 M-Bus devices), C.D.E the quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Obis {
    pub(crate) a: u8,
    pub(crate) b: u8,
    pub(crate) c: u8,
    pub(crate) d: u8,
    pub(crate) e: u8,
}

/// One data line, its physical pieces joined.
#[derive(Debug)]
pub(crate) struct DataLine<'a> {
    /// Line number of its first piece, the header being line 1.
    pub(crate) line_no: usize,
    /// The joined text.
    pub(crate) text: Cow<'a, str>,
}

/// Joins the physical lines of a telegram body (everything after the header line and
/// before `!`) into data lines. `first_line_no` is the number of the body's first line.
pub(crate) fn data_lines(body: &str, first_line_no: usize) -> Vec<DataLine<'_>> {
    let mut lines: Vec<DataLine<'_>> = Vec::new();
    // Parentheses opened and not yet closed in the last data line.
    let mut open_parens: usize = 0;
    for (index, raw) in body.split('\n').enumerate() {
        let piece = raw.trim_end_matches('\r');
        if piece.is_empty() {
            continue;
        }
        let continues = open_parens > 0 || piece.starts_with('(');
        match lines.last_mut() {
            Some(last) if continues => last.text.to_mut().push_str(piece),
            _ => {
                open_parens = 0;
                lines.push(DataLine {
                    line_no: first_line_no + index,
                    text: Cow::Borrowed(piece),
                });
            }
        }
        for byte in piece.bytes() {
            match byte {
                b'(' => open_parens += 1,
                b')' => open_parens = open_parens.saturating_sub(1),
                _ => {}
            }
        }
    }
    lines
}

/// Splits a data line into its OBIS code and the contents of its `(...)` groups, or says
/// why it is no data line.
pub(crate) fn split_line(line: &str) -> Result<(Obis, Vec<&str>), &'static str> {
    let open = line.find('(').ok_or("no '(' after the OBIS code")?;
    let obis = parse_obis(&line[..open]).ok_or("does not begin with an OBIS code A-B:C.D.E")?;
    let mut groups = Vec::new();
    let mut rest = &line[open..];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('(').ok_or("text between value groups")?;
        let close = inner.find(')').ok_or("value group without ')'")?;
        let value = &inner[..close];
        if value.contains('(') {
            return Err("'(' inside a value group");
        }
        groups.push(value);
        rest = &inner[close + 1..];
    }
    Ok((obis, groups))
}

/// Reads `A-B:C.D.E`, each field one to three decimal digits below 256.
fn parse_obis(text: &str) -> Option<Obis> {
    let (a, rest) = text.split_once('-')?;
    let (b, rest) = rest.split_once(':')?;
    let mut cde = rest.split('.');
    let (c, d, e) = (cde.next()?, cde.next()?, cde.next()?);
    if cde.next().is_some() {
        return None;
    }
    let field = |s: &str| -> Option<u8> {
        if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    Some(Obis {
        a: field(a)?,
        b: field(b)?,
        c: field(c)?,
        d: field(d)?,
        e: field(e)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(body: &str) -> Vec<(usize, String)> {
        data_lines(body, 2)
            .into_iter()
            .map(|l| (l.line_no, l.text.into_owned()))
            .collect()
    }

    #[test]
    fn one_physical_line_per_data_line_in_the_common_case() {
        let body = "\r\n1-3:0.2.8(50)\r\n0-0:1.0.0(170102192002W)\r\n";
        assert_eq!(
            texts(body),
            [
                (3, "1-3:0.2.8(50)".to_owned()),
                (4, "0-0:1.0.0(170102192002W)".to_owned())
            ]
        );
    }

    #[test]
    fn the_legacy_gas_value_on_the_next_line_joins_its_line() {
        let body = "0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)\r\n(00001.001)\r\n\
                    0-1:24.4.0(1)\r\n";
        assert_eq!(
            texts(body),
            [
                (
                    2,
                    "0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)(00001.001)".to_owned()
                ),
                (4, "0-1:24.4.0(1)".to_owned()),
            ]
        );
    }

    #[test]
    fn a_text_message_split_inside_its_parentheses_joins_its_line() {
        let body = "0-0:96.13.0(3031\r\n3233\r\n3435)\r\n0-1:24.1.0(03)\r\n";
        assert_eq!(
            texts(body),
            [
                (2, "0-0:96.13.0(303132333435)".to_owned()),
                (5, "0-1:24.1.0(03)".to_owned())
            ]
        );
    }

    #[test]
    fn splits_obis_and_groups() {
        let (obis, groups) = split_line("0-1:24.2.1(161129200000W)(00981.443*m3)").expect("ok");
        assert_eq!(
            obis,
            Obis {
                a: 0,
                b: 1,
                c: 24,
                d: 2,
                e: 1
            }
        );
        assert_eq!(groups, ["161129200000W", "00981.443*m3"]);
        let (_, empty) = split_line("0-0:96.13.0()").expect("ok");
        assert_eq!(empty, [""]);
    }

    #[test]
    fn refuses_lines_that_are_not_obis_and_groups() {
        for (line, reason) in [
            ("garbage", "no '(' after the OBIS code"),
            ("1-0:1.8(1)", "does not begin with an OBIS code A-B:C.D.E"),
            (
                "1-0:1.8.1.1(1)",
                "does not begin with an OBIS code A-B:C.D.E",
            ),
            (
                "1-0:1.8.256(1)",
                "does not begin with an OBIS code A-B:C.D.E",
            ),
            (
                "1-0:1.8.+1(1)",
                "does not begin with an OBIS code A-B:C.D.E",
            ),
            (
                "x1-0:1.8.1(1)",
                "does not begin with an OBIS code A-B:C.D.E",
            ),
            ("1-0:1.8.1(1) (2)", "text between value groups"),
            ("1-0:1.8.1(1)x", "text between value groups"),
            ("1-0:1.8.1(1", "value group without ')'"),
            ("1-0:1.8.1((1)", "'(' inside a value group"),
        ] {
            assert_eq!(split_line(line).map(|_| ()), Err(reason), "{line}");
        }
    }
}
