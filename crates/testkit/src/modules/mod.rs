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

mod source;

use source::{Named, definitions, path_attributes, paths, strip_comments_and_literals};

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
        let files = rust_files(src);
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

/// Every `.rs` file under `dir`, in name order (a crate's sources, for tests that read them).
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    collect_files(dir, &mut files);
    files
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
mod tests;
