"""Tables and plots that people can read at a glance. Submodules load matplotlib only when they draw."""
