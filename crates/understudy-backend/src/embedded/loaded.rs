//! The set of loaded engines: one per canonical GGUF file (plus template and context, which change
//! what the engine does), capped in number, least recently used unloaded first. Loading itself is
//! the caller's job; this module only decides what is kept.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::engine::Engine;

/// Models kept loaded at once when the configuration sets no cap: the default ladder's three
/// models (a run with a reference and two candidates) plus one.
pub const DEFAULT_MAX_LOADED: usize = 4;

/// What makes two loads the same engine: the file as the file system resolves it, and the
/// options that change the engine's behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EngineKey {
    pub file: PathBuf,
    pub chat_template: Option<String>,
    pub context_length: Option<u32>,
    /// Requests run at once (`None`: the engine's default).
    pub parallel: Option<u32>,
}

impl EngineKey {
    /// The key for `path`: `models/X.gguf`, `models/./X.gguf` and `//models/X.gguf` (and a symlink
    /// to it) are one file. A path that cannot be resolved keeps its own spelling.
    pub fn new(path: &Path, chat_template: Option<String>, context_length: Option<u32>) -> Self {
        Self {
            file: std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
            chat_template,
            context_length,
            parallel: None,
        }
    }

    /// The key with the number of parallel sequences the engine runs.
    pub fn with_parallel(mut self, parallel: Option<u32>) -> Self {
        self.parallel = parallel;
        self
    }
}

struct Slot<E> {
    engine: Arc<E>,
    last_used: u64,
}

/// Loaded engines with a cap; generic so the policy is testable without a model.
pub struct LoadedSet<E = Engine> {
    max: usize,
    clock: u64,
    slots: HashMap<EngineKey, Slot<E>>,
    /// Names already resolved to a loaded engine's key, so that a request for a loaded model
    /// touches no file (no install check, no path resolution) on its way in.
    names: HashMap<String, EngineKey>,
}

impl<E> LoadedSet<E> {
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            clock: 0,
            slots: HashMap::new(),
            names: HashMap::new(),
        }
    }

    /// The engine for `key`, if loaded; marks it used.
    pub fn get(&mut self, key: &EngineKey) -> Option<Arc<E>> {
        self.clock += 1;
        let now = self.clock;
        self.slots.get_mut(key).map(|slot| {
            slot.last_used = now;
            slot.engine.clone()
        })
    }

    /// The engine `name` was last resolved to, if it is still loaded; marks it used.
    pub fn get_by_name(&mut self, name: &str) -> Option<Arc<E>> {
        let key = self.names.get(name)?.clone();
        self.get(&key)
    }

    /// Remembers that `name` resolves to `key`.
    pub fn name(&mut self, name: &str, key: &EngineKey) {
        self.names.insert(name.to_string(), key.clone());
    }

    /// Keeps `engine` under `key`, unloading the least recently used ones past the cap. Returns
    /// the keys unloaded (their engines stop once in-flight requests release them).
    pub fn insert(&mut self, key: EngineKey, engine: Arc<E>) -> Vec<EngineKey> {
        self.clock += 1;
        self.slots.insert(
            key,
            Slot {
                engine,
                last_used: self.clock,
            },
        );
        let mut unloaded = Vec::new();
        while self.slots.len() > self.max {
            let Some(oldest) = self
                .slots
                .iter()
                .min_by_key(|(_, slot)| slot.last_used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            self.slots.remove(&oldest);
            self.names.retain(|_, key| *key != oldest);
            unloaded.push(oldest);
        }
        unloaded
    }

    /// How many engines are loaded.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> EngineKey {
        EngineKey::new(Path::new(name), None, None)
    }

    #[test]
    fn three_spellings_of_one_file_are_one_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("models")).unwrap();
        std::fs::write(dir.path().join("models/X.gguf"), b"GGUF").unwrap();
        let base = dir.path().display().to_string();
        let a = key(&format!("{base}/models/X.gguf"));
        let b = key(&format!("{base}/models/./X.gguf"));
        let c = key(&format!("/{base}/models/X.gguf"));
        let d = key(&format!("{base}/models/../models/X.gguf"));
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a, d);
        assert_ne!(a, EngineKey::new(&a.file, Some("chatml".into()), None));
    }

    #[test]
    fn the_least_recently_used_engine_is_unloaded_past_the_cap() {
        let mut set = LoadedSet::new(2);
        assert!(set.insert(key("/a"), Arc::new(1)).is_empty());
        assert!(set.insert(key("/b"), Arc::new(2)).is_empty());
        assert_eq!(set.get(&key("/a")).as_deref(), Some(&1));
        assert_eq!(set.insert(key("/c"), Arc::new(3)), vec![key("/b")]);
        assert_eq!(set.len(), 2);
        assert!(set.get(&key("/b")).is_none());
        assert!(set.get(&key("/a")).is_some());
        assert!(set.get(&key("/c")).is_some());
    }

    #[test]
    fn a_resolved_name_finds_its_engine_until_it_is_unloaded() {
        let mut set = LoadedSet::new(1);
        set.insert(key("/a"), Arc::new(1));
        set.name("alias", &key("/a"));
        assert_eq!(set.get_by_name("alias").as_deref(), Some(&1));
        assert!(set.get_by_name("other").is_none());
        set.insert(key("/b"), Arc::new(2));
        assert!(set.get_by_name("alias").is_none());
    }

    #[test]
    fn an_unloaded_engine_lives_while_a_request_holds_it() {
        let mut set = LoadedSet::new(1);
        let held = Arc::new(7);
        set.insert(key("/a"), held.clone());
        set.insert(key("/b"), Arc::new(8));
        assert_eq!(Arc::strong_count(&held), 1, "the set let go of it");
        assert_eq!(*held, 7);
    }
}
