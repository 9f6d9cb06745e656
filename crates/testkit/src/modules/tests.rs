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
