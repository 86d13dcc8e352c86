// Linux calls Swift's Glibc module does not expose (they need _GNU_SOURCE).
#define _GNU_SOURCE
#include <unistd.h>

/// syncfs(2): commit every dirty page and inode of the file system holding `fd`, journal included.
static inline int lth_syncfs(int fd) { return syncfs(fd); }
