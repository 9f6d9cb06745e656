//! Reading one file's paths: comments and literals blanked out, the text cut into tokens,
//! use trees expanded, the items it defines listed. No understanding of Rust beyond what
//! an import graph needs.

use std::collections::BTreeSet;

/// Source text with comments, string and character literals blanked out (lines kept).
pub(super) fn strip_comments_and_literals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if c == 'r' && matches!(next, Some('"' | '#')) && !ident_before(&chars, i) {
            let mut hashes = 0;
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                if chars[j] == '\n' {
                    out.push('\n');
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if chars.get(i) == Some(&'\n') {
                    out.push('\n');
                }
                i += 1;
            }
            out.push_str("\"\"");
            i += 1;
        } else if c == '\'' && is_char_literal(&chars, i) {
            let mut j = i + 1;
            if chars.get(j) == Some(&'\\') {
                j += 1;
            }
            j += 1;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            out.push_str("' '");
            i = j + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// A `'` that opens a character literal rather than a lifetime or label.
fn is_char_literal(chars: &[char], i: usize) -> bool {
    matches!(
        (chars.get(i + 1), chars.get(i + 2)),
        (Some('\\'), _) | (Some(_), Some('\''))
    )
}

/// `#[path = "x.rs"] mod name;` pairs of a file's raw text.
pub(super) fn path_attributes(raw: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut pending: Option<String> = None;
    for line in raw.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#[path") {
            pending = rest.split('"').nth(1).map(str::to_owned);
            continue;
        }
        if let Some(target) = pending.take() {
            let declaration = line
                .trim_start_matches("pub ")
                .trim_start_matches("pub(crate) ");
            if let Some(name) = declaration
                .strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix(';'))
            {
                found.push((target, name.trim().to_owned()));
            }
        }
    }
    found
}

/// A path a file names.
#[derive(Debug)]
pub(super) struct Named {
    /// The inline modules (`mod tests { … }`) it sits in.
    pub(super) inline: Vec<String>,
    /// The path as written (a glob ends in `*`).
    pub(super) path: Vec<String>,
    /// For a `pub use`: the name it is exported under (`*` for a glob).
    pub(super) reexport: Option<String>,
}

/// Every path a file names.
pub(super) fn paths(code: &str) -> Vec<Named> {
    let tokens = tokenize(code);
    let mut found = Vec::new();
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i].as_str();
        match token {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, at)| *at == depth) {
                    inline.pop();
                }
            }
            "mod" if tokens.get(i + 2).map(String::as_str) == Some("{") => {
                inline.push((tokens[i + 1].clone(), depth));
            }
            "use" => {
                let end = tokens[i..]
                    .iter()
                    .position(|t| t == ";")
                    .map_or(tokens.len(), |at| i + at);
                let names: Vec<String> = inline.iter().map(|(name, _)| name.clone()).collect();
                let public = i > 0 && matches!(tokens[i - 1].as_str(), "pub" | ")");
                for (path, alias) in expand_use(&tokens[i + 1..end]) {
                    let reexport = public.then(|| {
                        alias
                            .clone()
                            .or_else(|| path.last().cloned())
                            .unwrap_or_default()
                    });
                    found.push(Named {
                        inline: names.clone(),
                        path,
                        reexport,
                    });
                }
                i = end;
                continue;
            }
            "crate" | "super" if tokens.get(i + 1).map(String::as_str) == Some("::") => {
                let before = i.checked_sub(1).map(|at| tokens[at].as_str());
                if before != Some("::") {
                    let mut path = vec![token.to_owned()];
                    let mut j = i + 1;
                    while tokens.get(j).map(String::as_str) == Some("::")
                        && tokens.get(j + 1).is_some_and(|t| is_ident(t))
                    {
                        path.push(tokens[j + 1].clone());
                        j += 2;
                    }
                    let names = inline.iter().map(|(name, _)| name.clone()).collect();
                    found.push(Named {
                        inline: names,
                        path,
                        reexport: None,
                    });
                    i = j;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    found
}

fn is_ident(token: &str) -> bool {
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Identifiers, `::` and single punctuation characters.
fn tokenize(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".to_owned());
            i += 2;
        } else if c.is_whitespace() {
            i += 1;
        } else {
            tokens.push(c.to_string());
            i += 1;
        }
    }
    tokens
}

/// The paths a use tree names, each with its alias: `a::{b as x, c::{d, *}}` →
/// (`a::b`, `x`), (`a::c::d`, none), (`a::c::*`, none).
fn expand_use(tokens: &[String]) -> Vec<(Vec<String>, Option<String>)> {
    let mut out = Vec::new();
    let tokens: Vec<&str> = tokens
        .iter()
        .map(String::as_str)
        .skip_while(|t| *t == "::")
        .collect();
    expand_into(&tokens, Vec::new(), &mut out);
    out
}

fn expand_into(tokens: &[&str], prefix: Vec<String>, out: &mut Vec<(Vec<String>, Option<String>)>) {
    let mut path = prefix;
    let mut alias = None;
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i] {
            "::" => i += 1,
            "{" => {
                let close = matching_brace(tokens, i);
                for part in split_top_level(&tokens[i + 1..close]) {
                    expand_into(part, path.clone(), out);
                }
                return;
            }
            "as" => {
                alias = tokens.get(i + 1).map(|name| (*name).to_owned());
                break;
            }
            "*" => {
                path.push("*".to_owned());
                break;
            }
            token if is_ident(token) => {
                path.push(token.to_owned());
                i += 1;
            }
            _ => i += 1,
        }
    }
    if !path.is_empty() {
        out.push((path, alias));
    }
}

fn matching_brace(tokens: &[&str], open: usize) -> usize {
    let mut depth = 0;
    for (at, token) in tokens.iter().enumerate().skip(open) {
        match *token {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if depth == 0 {
                    return at;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

fn split_top_level<'a>(tokens: &'a [&'a str]) -> Vec<&'a [&'a str]> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (at, token) in tokens.iter().enumerate() {
        match *token {
            "{" => depth += 1,
            "}" => depth -= 1,
            "," if depth == 0 => {
                parts.push(&tokens[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&tokens[start..]);
    parts
}

/// The names of the items a file defines at any depth (a test module's helpers too; a
/// name is only looked up after its module path has been matched).
pub(super) fn definitions(code: &str) -> BTreeSet<String> {
    let tokens = tokenize(code);
    tokens
        .windows(2)
        .filter(|pair| {
            matches!(
                pair[0].as_str(),
                "struct"
                    | "enum"
                    | "trait"
                    | "fn"
                    | "type"
                    | "const"
                    | "static"
                    | "union"
                    | "macro_rules"
            )
        })
        .map(|pair| pair[1].clone())
        .collect()
}
