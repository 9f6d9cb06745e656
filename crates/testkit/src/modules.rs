//! The import graph between one crate's source files, read from their paths (`use
//! crate::…`, `crate::…` in code, `super::…`, and `use child::…` from a parent), for the
//! test that keeps every crate free of import cycles between its files.
//!
//! A file's `mod child;` declares the child and is not an import; an import of an item
//! is an edge to the file that defines it: the longest module path it names, followed
//! through that module's `pub use` re-exports. A `pub use` itself is no edge (a crate root
//! re-exporting its modules' items is how a crate shows its interface, not a dependency). Comments, string and
//! character literals are skipped; paths inside an inline `mod name { … }` (a file's
//! tests) are resolved from that inline module, so a test's `use super::*` is an edge to
//! its own file, which is no edge at all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A crate's files and the edges between them.
#[derive(Debug, Default)]
pub struct ImportGraph {
    /// File (relative to `src`) → module path.
    modules: BTreeMap<String, Vec<String>>,
    /// File → the files it imports from.
    edges: BTreeMap<String, BTreeSet<String>>,
}

impl ImportGraph {
    /// Reads every `.rs` file under `src` (a crate's `src` directory).
    pub fn read(src: &Path) -> Self {
        let mut graph = Self::default();
        let mut files = Vec::new();
        collect_files(src, &mut files);
        let mut texts = BTreeMap::new();
        let mut raws = BTreeMap::new();
        for path in &files {
            let relative = relative_name(src, path);
            let text = std::fs::read_to_string(path).expect("read a source file");
            raws.insert(relative.clone(), text.clone());
            texts.insert(relative.clone(), strip_comments_and_literals(&text));
            graph
                .modules
                .insert(relative.clone(), default_module(&relative));
        }
        // `#[path = "x.rs"] mod name;` puts x.rs at `parent::name`.
        let declared: Vec<(String, Vec<String>)> = raws
            .iter()
            .flat_map(|(file, raw)| {
                let parent = graph.modules[file].clone();
                let dir = Path::new(file)
                    .parent()
                    .map(PathBuf::from)
                    .unwrap_or_default();
                path_attributes(raw)
                    .into_iter()
                    .map(move |(target, name)| {
                        let mut module = parent.clone();
                        module.push(name);
                        (dir.join(target).to_string_lossy().into_owned(), module)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        for (file, module) in declared {
            if let Some(entry) = graph.modules.get_mut(&file) {
                *entry = module;
            }
        }
        let by_module: BTreeMap<Vec<String>, String> = graph
            .modules
            .iter()
            .map(|(file, module)| (module.clone(), file.clone()))
            .collect();
        let mut found: BTreeMap<String, Vec<Named>> = BTreeMap::new();
        let mut index = Index {
            by_module,
            ..Index::default()
        };
        for (file, code) in &texts {
            let named = paths(code);
            let module = &graph.modules[file];
            for name in named.iter().filter(|name| name.inline.is_empty()) {
                if let (Some(exported), Some(path)) = (
                    &name.reexport,
                    absolute(module, &name.path, &index.by_module),
                ) {
                    let entry = index.reexports.entry(file.clone()).or_default();
                    entry.push((exported.clone(), path));
                }
            }
            index.defined.insert(file.clone(), definitions(code));
            found.insert(file.clone(), named);
        }
        for (file, named) in found {
            let module = &graph.modules[&file];
            let mut targets = BTreeSet::new();
            for name in named.into_iter().filter(|name| name.reexport.is_none()) {
                let mut here = module.clone();
                here.extend(name.inline);
                if let Some(path) = absolute(&here, &name.path, &index.by_module) {
                    let target = index.locate(&path, 0);
                    if target != file {
                        targets.insert(target);
                    }
                }
            }
            graph.edges.insert(file, targets);
        }
        graph
    }

    /// Every file, relative to `src`.
    pub fn files(&self) -> Vec<String> {
        self.modules.keys().cloned().collect()
    }

    /// The files `file` imports from.
    pub fn imports_of(&self, file: &str) -> Vec<String> {
        self.edges
            .get(file)
            .map(|targets| targets.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every set of files that import each other in a circle (strongly connected
    /// components of more than one file), each sorted.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let mut finder = Tarjan {
            graph: &self.edges,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            next: 0,
            components: Vec::new(),
        };
        for file in self.edges.keys() {
            if !finder.index.contains_key(file) {
                finder.visit(file);
            }
        }
        finder
            .components
            .into_iter()
            .filter(|component| component.len() > 1)
            .map(|mut component| {
                component.sort();
                component
            })
            .collect()
    }
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read a source directory")
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

fn relative_name(src: &Path, path: &Path) -> String {
    path.strip_prefix(src)
        .expect("under src")
        .to_string_lossy()
        .into_owned()
}

/// The module a file is by its place: `lib.rs`/`main.rs` → root, `a/mod.rs` and `a.rs` →
/// `a`, `a/b.rs` → `a::b`.
fn default_module(relative: &str) -> Vec<String> {
    let without = relative.trim_end_matches(".rs");
    let mut parts: Vec<String> = without.split('/').map(str::to_owned).collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Source text with comments, string and character literals blanked out (lines kept).
fn strip_comments_and_literals(text: &str) -> String {
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
fn path_attributes(raw: &str) -> Vec<(String, String)> {
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
struct Named {
    /// The inline modules (`mod tests { … }`) it sits in.
    inline: Vec<String>,
    /// The path as written (a glob ends in `*`).
    path: Vec<String>,
    /// For a `pub use`: the name it is exported under (`*` for a glob).
    reexport: Option<String>,
}

/// Every path a file names.
fn paths(code: &str) -> Vec<Named> {
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

/// `path`, named from module `here`, as a path from the crate root (external crates:
/// none).
fn absolute(
    here: &[String],
    path: &[String],
    by_module: &BTreeMap<Vec<String>, String>,
) -> Option<Vec<String>> {
    let mut absolute: Vec<String>;
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            absolute = Vec::new();
            rest = &path[1..];
        }
        Some("super" | "self") => {
            absolute = here.to_vec();
            while let Some(first) = rest.first() {
                match first.as_str() {
                    "super" => {
                        absolute.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        Some(first) => {
            let mut child = here.to_vec();
            child.push(first.to_owned());
            if !by_module.contains_key(&child) {
                return None;
            }
            absolute = here.to_vec();
        }
        None => return None,
    }
    absolute.extend(rest.iter().cloned());
    Some(absolute)
}

/// What resolving an item to the file defining it needs.
#[derive(Debug, Default)]
struct Index {
    /// Module path → file.
    by_module: BTreeMap<Vec<String>, String>,
    /// File → (name exported, or `*`; the absolute path it re-exports).
    reexports: BTreeMap<String, Vec<(String, Vec<String>)>>,
    /// File → the names of the items it defines.
    defined: BTreeMap<String, BTreeSet<String>>,
}

impl Index {
    /// The file defining what the absolute `path` names: the longest module it names,
    /// then that module's re-exports of the next name, if it does not define it itself.
    fn locate(&self, path: &[String], depth: usize) -> String {
        let (length, file) = (0..=path.len())
            .rev()
            .find_map(|len| self.by_module.get(&path[..len]).map(|file| (len, file)))
            .expect("the crate root is a module");
        let Some(name) = path.get(length).filter(|name| *name != "*") else {
            return file.clone();
        };
        if depth > 16
            || self
                .defined
                .get(file)
                .is_some_and(|names| names.contains(name))
        {
            return file.clone();
        }
        let exports = self
            .reexports
            .get(file)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let rest = &path[length + 1..];
        if let Some((_, target)) = exports.iter().find(|(exported, _)| exported == name) {
            let mut next = target.clone();
            next.extend(rest.iter().cloned());
            return self.locate(&next, depth + 1);
        }
        for (_, glob) in exports.iter().filter(|(exported, _)| exported == "*") {
            let module = &glob[..glob.len() - 1];
            let mut next = module.to_vec();
            next.push(name.clone());
            next.extend(rest.iter().cloned());
            let found = self.locate(&next, depth + 1);
            if self
                .defined
                .get(&found)
                .is_some_and(|names| names.contains(name))
            {
                return found;
            }
        }
        file.clone()
    }
}

/// The names of the items a file defines at any depth (a test module's helpers too; a
/// name is only looked up after its module path has been matched).
fn definitions(code: &str) -> BTreeSet<String> {
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

struct Tarjan<'a> {
    graph: &'a BTreeMap<String, BTreeSet<String>>,
    index: BTreeMap<String, usize>,
    low: BTreeMap<String, usize>,
    stack: Vec<String>,
    on_stack: BTreeSet<String>,
    next: usize,
    components: Vec<Vec<String>>,
}

impl Tarjan<'_> {
    fn visit(&mut self, file: &str) {
        self.index.insert(file.to_owned(), self.next);
        self.low.insert(file.to_owned(), self.next);
        self.next += 1;
        self.stack.push(file.to_owned());
        self.on_stack.insert(file.to_owned());
        for target in self.graph.get(file).into_iter().flatten() {
            if !self.index.contains_key(target) {
                self.visit(target);
                let low = self.low[file].min(self.low[target]);
                self.low.insert(file.to_owned(), low);
            } else if self.on_stack.contains(target) {
                let low = self.low[file].min(self.index[target]);
                self.low.insert(file.to_owned(), low);
            }
        }
        if self.low[file] == self.index[file] {
            let mut component = Vec::new();
            while let Some(top) = self.stack.pop() {
                self.on_stack.remove(&top);
                let done = top == file;
                component.push(top);
                if done {
                    break;
                }
            }
            self.components.push(component);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &str, text: &str) {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(path, text).expect("write");
    }

    #[test]
    fn finds_a_cycle_through_use_trees_and_inline_paths() {
        let dir = std::env::temp_dir().join(format!("joule-modules-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        write(&dir, "lib.rs", "pub mod a;\npub mod b;\npub mod c;\n");
        write(&dir, "a/mod.rs", "pub mod inner;\npub use inner::Thing;\n");
        write(
            &dir,
            "a/inner.rs",
            "use crate::{b::{self, B}, c};\npub struct Thing;\n",
        );
        write(
            &dir,
            "b.rs",
            "// use crate::c; in a comment is no import\npub struct B;\nfn f() { let _ = \"crate::c::X\"; crate::a::Thing; }\n#[cfg(test)]\nmod tests { use super::*; }\n",
        );
        write(
            &dir,
            "c.rs",
            "pub struct C;\n#[path = \"c_tests.rs\"]\nmod tests;\n",
        );
        write(&dir, "c_tests.rs", "use super::*;\n");
        let graph = ImportGraph::read(&dir);
        // A re-export is no edge; the path through it leads to the defining file.
        assert!(graph.imports_of("a/mod.rs").is_empty());
        assert_eq!(
            graph.imports_of("a/inner.rs"),
            vec!["b.rs".to_owned(), "c.rs".to_owned()]
        );
        assert_eq!(graph.imports_of("b.rs"), vec!["a/inner.rs".to_owned()]);
        assert_eq!(graph.imports_of("c_tests.rs"), vec!["c.rs".to_owned()]);
        assert_eq!(
            graph.cycles(),
            vec![vec!["a/inner.rs".to_owned(), "b.rs".to_owned()]]
        );
        write(&dir, "b.rs", "pub struct B;\n");
        assert!(ImportGraph::read(&dir).cycles().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
