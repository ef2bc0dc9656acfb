//! The page's config, held and never freed: plain data that the state,
//! the requests waiting on the loader and the lifecycle all hold, so it
//! sits apart from each of them.

use dangol_engine::config::CompiledConfig;

/// A config the page decides with, never freed. A page keeps its config
/// for its whole life and reads at most two whole ones (the stored one at
/// start, the server's answer): the one `dangol.refresh()` replaces with
/// the server's newer one stays in memory, as does a config refused after
/// its read (a corrupt form, another site's). In exchange the first module
/// carries no code to free a config, its campaigns and their conditions
/// (0.5 KB gzip).
pub(crate) struct Kept(std::mem::ManuallyDrop<CompiledConfig>);

impl Kept {
    pub fn new(config: CompiledConfig) -> Self {
        Kept(std::mem::ManuallyDrop::new(config))
    }

    /// The config, to be freed like any value: for the bench, which times
    /// freeing apart.
    #[cfg(feature = "bench")]
    pub fn into_inner(self) -> CompiledConfig {
        std::mem::ManuallyDrop::into_inner(self.0)
    }
}

impl std::ops::Deref for Kept {
    type Target = CompiledConfig;
    fn deref(&self) -> &CompiledConfig {
        &self.0
    }
}
