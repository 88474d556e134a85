"""Files someone else made: bounded JSON, regular files under a size cap, paths that stay in their folder, images
that are not bombs, and atomic writes that never follow a planted link."""
