/* exporter-kit/symbolize.c: turn sampled addresses into a pprof profile with
 * mappings, locations and function names resolved in the process.
 *
 * What. kx_pbuild_* collect samples (stacks of pcs) into a struct
 * pprof_profile. Mappings come from /proc/self/maps (executable,
 * file-backed or [vdso]), with the GNU build ID of the object read from its
 * PT_NOTE segments in memory (dl_iterate_phdr). Function names come from the
 * object's ELF symbol table read from its file: .symtab when present (static
 * functions included), else the separate debug file
 * /usr/lib/debug/.build-id/xx/yyyy.debug, else .dynsym. Only STT_FUNC and
 * STT_GNU_IFUNC symbols count, and an address resolves to a symbol only when
 * it lies inside [value, value + size): the nearest symbol below an address
 * is not enough (it would name stripped static functions after their
 * neighbours).
 *
 * Design. Symbol tables are parsed once per object file and cached for the
 * life of the process (the file stays mmap'd read-only; names point into it),
 * under one mutex taken by request threads only. Names are left mangled with
 * name == system_name; go tool pprof demangles C++. Locations are keyed by
 * address; functions by name. The executable's mapping comes first, as
 * pprof expects the main binary there.
 *
 * Ownership. A builder owns its profile until kx_pbuild_finish hands it
 * over. Everything here runs in normal threads with kx_guard set, so its
 * allocations are not sampled by the heap profiler.
 *
 * Elsewhere: the pseudo pcs (KX_PC_*) are named here; what samples mean is
 * the caller's business (cpu.c, heap.c, mutex.c).
 */
#include "exporter-kit/kx.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/hmap.h"
#include "pprof/profile.h"

/* ---- ELF symbol tables, cached per file --------------------------------- */

struct kx_sym {
    uint64_t value;
    uint64_t size;
    const char *name;
};

struct kx_symfile {
    struct kx_symfile *next;
    char *path;
    void *map; /* the file (or its debug file), mmap'd; names point here */
    size_t map_len;
    struct kx_sym *syms; /* sorted by value, then size descending */
    size_t n_syms;
};

static pthread_mutex_t symfiles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kx_symfile *symfiles;

static int sym_cmp(const void *a, const void *b)
{
    const struct kx_sym *x = a, *y = b;
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return 0;
}

/* The section headers of an mmap'd ELF64 file, or NULL if it is not one. */
static const Elf64_Shdr *elf_sections(const void *map, size_t len, size_t *n)
{
    const Elf64_Ehdr *eh = map;
    if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff == 0 ||
        eh->e_shoff > len ||
        (len - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum)
        return NULL;
    *n = eh->e_shnum;
    return (const Elf64_Shdr *)((const char *)map + eh->e_shoff);
}

/* Append the function symbols of the section of type `type`; false if the
 * file has no such section. */
static bool read_syms(const void *map, size_t len, uint32_t type,
                      struct kx_symfile *f)
{
    size_t nsec;
    const Elf64_Shdr *sh = elf_sections(map, len, &nsec);
    if (sh == NULL)
        return false;
    for (size_t i = 0; i < nsec; i++) {
        if (sh[i].sh_type != type || sh[i].sh_entsize != sizeof(Elf64_Sym))
            continue;
        if (sh[i].sh_link >= nsec || sh[i].sh_offset > len ||
            sh[i].sh_size > len - sh[i].sh_offset)
            return false;
        const Elf64_Shdr *strsh = &sh[sh[i].sh_link];
        if (strsh->sh_offset > len || strsh->sh_size > len - strsh->sh_offset)
            return false;
        const char *strs = (const char *)map + strsh->sh_offset;
        const Elf64_Sym *syms =
            (const Elf64_Sym *)((const char *)map + sh[i].sh_offset);
        size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
        size_t cap = 0, used = 0;
        struct kx_sym *out = NULL;
        for (size_t k = 0; k < n; k++) {
            int t = ELF64_ST_TYPE(syms[k].st_info);
            if ((t != STT_FUNC && t != STT_GNU_IFUNC) ||
                syms[k].st_shndx == SHN_UNDEF || syms[k].st_value == 0 ||
                syms[k].st_name >= strsh->sh_size)
                continue;
            const char *name = strs + syms[k].st_name;
            if (memchr(name, '\0', strsh->sh_size - syms[k].st_name) == NULL ||
                name[0] == '\0')
                continue;
            /* "clock_nanosleep@@GLIBC_2.17" -> "clock_nanosleep" (the
             * copy lives as long as the cache, i.e. the process). */
            const char *at = strchr(name, '@');
            if (at != NULL && at != name)
                name = kb_strndup(name, (size_t)(at - name));
            out = kb_grow(out, &cap, used + 1, sizeof(*out));
            out[used].value = syms[k].st_value;
            out[used].size = syms[k].st_size;
            out[used].name = name;
            used++;
        }
        if (used == 0) {
            free(out);
            return false;
        }
        qsort(out, used, sizeof(*out), sym_cmp);
        f->syms = out;
        f->n_syms = used;
        return true;
    }
    return false;
}

static void *map_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    void *m = MAP_FAILED;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return NULL;
    *len = (size_t)st.st_size;
    return m;
}

/* The cached symbols of `path` (built on first use); never NULL, possibly
 * empty. Call with symfiles_lock held. */
static struct kx_symfile *symfile_get(const char *path, const char *build_id)
{
    for (struct kx_symfile *f = symfiles; f; f = f->next)
        if (strcmp(f->path, path) == 0)
            return f;
    struct kx_symfile *f = kb_calloc(1, sizeof(*f));
    f->path = kb_strdup(path);
    f->next = symfiles;
    symfiles = f;
    if (path[0] != '/')
        return f;
    f->map = map_file(path, &f->map_len);
    if (f->map == NULL)
        return f;
    if (read_syms(f->map, f->map_len, SHT_SYMTAB, f))
        return f;
    if (build_id != NULL && strlen(build_id) > 2) {
        char dbg[PATH_MAX];
        snprintf(dbg, sizeof(dbg), "/usr/lib/debug/.build-id/%.2s/%s.debug",
                 build_id, build_id + 2);
        size_t dlen;
        void *dmap = map_file(dbg, &dlen);
        if (dmap != NULL) {
            if (read_syms(dmap, dlen, SHT_SYMTAB, f)) {
                munmap(f->map, f->map_len);
                f->map = dmap;
                f->map_len = dlen;
                return f;
            }
            munmap(dmap, dlen);
        }
    }
    read_syms(f->map, f->map_len, SHT_DYNSYM, f);
    return f;
}

static const char *symfile_lookup(const struct kx_symfile *f, uint64_t vaddr)
{
    size_t lo = 0, hi = f->n_syms;
    while (lo < hi) { /* first symbol with value > vaddr */
        size_t mid = lo + (hi - lo) / 2;
        if (f->syms[mid].value <= vaddr)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* Look back a little: aliases and nested symbols share addresses. */
    for (size_t i = lo, k = 0; i > 0 && k < 16; i--, k++) {
        const struct kx_sym *s = &f->syms[i - 1];
        if (vaddr < s->value + s->size || (s->size == 0 && vaddr == s->value))
            return s->name;
    }
    return NULL;
}

/* ---- Loaded objects ------------------------------------------------------ */

#define KX_MAX_SEGS 8

struct kx_obj {
    uintptr_t base; /* load bias: runtime address - ELF vaddr */
    char *path;     /* absolute path, or a name such as linux-vdso.so.1 */
    char build_id[2 * 64 + 1];
    uintptr_t seg_lo[KX_MAX_SEGS], seg_hi[KX_MAX_SEGS];
    int n_segs;
    bool is_main;
    struct kx_symfile *syms; /* set lazily */
};

struct kx_objs {
    struct kx_obj *v;
    size_t n, cap;
};

static void note_build_id(struct kx_obj *o, const char *p, size_t len)
{
    while (len >= sizeof(Elf64_Nhdr)) {
        const Elf64_Nhdr *nh = (const Elf64_Nhdr *)p;
        size_t namesz = (nh->n_namesz + 3) & ~(size_t)3;
        size_t descsz = (nh->n_descsz + 3) & ~(size_t)3;
        size_t total = sizeof(*nh) + namesz + descsz;
        if (total > len)
            return;
        const char *name = p + sizeof(*nh);
        if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
            memcmp(name, "GNU", 4) == 0 && nh->n_descsz <= 64) {
            const unsigned char *d = (const unsigned char *)(name + namesz);
            for (size_t i = 0; i < nh->n_descsz; i++)
                snprintf(o->build_id + 2 * i, 3, "%02x", d[i]);
            return;
        }
        p += total;
        len -= total;
    }
}

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    struct kx_objs *objs = data;
    objs->v = kb_grow(objs->v, &objs->cap, objs->n + 1, sizeof(*objs->v));
    struct kx_obj *o = &objs->v[objs->n];
    memset(o, 0, sizeof(*o));
    o->base = info->dlpi_addr;
    o->is_main = objs->n == 0;
    if (o->is_main || info->dlpi_name == NULL || info->dlpi_name[0] == '\0') {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = '\0';
        o->path = kb_strdup(o->is_main ? exe : "");
    } else {
        o->path = kb_strdup(info->dlpi_name);
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && o->n_segs < KX_MAX_SEGS) {
            o->seg_lo[o->n_segs] = info->dlpi_addr + ph->p_vaddr;
            o->seg_hi[o->n_segs] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
            o->n_segs++;
        } else if (ph->p_type == PT_NOTE && o->build_id[0] == '\0') {
            note_build_id(o, (const char *)(info->dlpi_addr + ph->p_vaddr),
                          ph->p_memsz);
        }
    }
    objs->n++;
    return 0;
}

static void objs_load(struct kx_objs *objs)
{
    memset(objs, 0, sizeof(*objs));
    dl_iterate_phdr(phdr_cb, objs);
}

static void objs_free(struct kx_objs *objs)
{
    for (size_t i = 0; i < objs->n; i++)
        free(objs->v[i].path);
    free(objs->v);
}

static struct kx_obj *objs_find(struct kx_objs *objs, uintptr_t addr)
{
    for (size_t i = 0; i < objs->n; i++)
        for (int s = 0; s < objs->v[i].n_segs; s++)
            if (addr >= objs->v[i].seg_lo[s] && addr < objs->v[i].seg_hi[s])
                return &objs->v[i];
    return NULL;
}

/* The symbol name of `addr` in `o`; call with symfiles_lock held. */
static const char *obj_lookup(struct kx_obj *o, uintptr_t addr)
{
    if (o->syms == NULL)
        o->syms = symfile_get(o->path, o->build_id);
    return symfile_lookup(o->syms, addr - o->base);
}

const char *kx_symbol_name(uintptr_t addr)
{
    struct kx_objs objs;
    objs_load(&objs);
    const char *name = NULL;
    struct kx_obj *o = objs_find(&objs, addr);
    if (o != NULL) {
        pthread_mutex_lock(&symfiles_lock);
        name = obj_lookup(o, addr);
        pthread_mutex_unlock(&symfiles_lock);
    }
    objs_free(&objs);
    return name;
}

/* ---- Profile builder ----------------------------------------------------- */

struct kx_map {
    uintptr_t lo, hi;
    uint32_t id;
    struct kx_obj *obj;
    bool all_named; /* every location in it got a function */
};

struct kx_pbuild {
    struct pprof_profile *p;
    struct kx_objs objs;
    struct kx_map *maps;
    size_t n_maps, cap_maps;
    struct hmap *locs;  /* address -> location id */
    struct hmap *funcs; /* name -> function id */
    uint32_t *loc_buf;
};

static void add_map(struct kx_pbuild *b, uintptr_t lo, uintptr_t hi,
                    uint64_t off, const char *path)
{
    struct kx_obj *obj = objs_find(&b->objs, lo);
    struct pprof_mapping m = {0};
    m.memory_start = lo;
    m.memory_limit = hi;
    m.file_offset = off;
    m.filename = pprof_intern_str(b->p, path);
    if (obj != NULL)
        m.build_id = pprof_intern_str(b->p, obj->build_id);
    b->maps = kb_grow(b->maps, &b->cap_maps, b->n_maps + 1, sizeof(*b->maps));
    struct kx_map *km = &b->maps[b->n_maps++];
    km->lo = lo;
    km->hi = hi;
    km->obj = obj;
    km->all_named = true;
    km->id = pprof_add_mapping(b->p, &m);
}

/* Read the executable mappings of /proc/self/maps; the main executable's
 * first. */
static void load_maps(struct kx_pbuild *b)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL)
        return;
    char line[PATH_MAX + 256];
    for (int pass = 0; pass < 2; pass++) {
        rewind(f);
        while (fgets(line, sizeof(line), f) != NULL) {
            unsigned long lo, hi, off;
            char perms[8];
            int path_at = 0;
            if (sscanf(line, "%lx-%lx %7s %lx %*s %*s%n", &lo, &hi, perms, &off,
                       &path_at) != 4 ||
                perms[2] != 'x')
                continue;
            char *path = line + path_at;
            while (*path == ' ' || *path == '\t')
                path++;
            path[strcspn(path, "\n")] = '\0';
            if (path[0] != '/' && strcmp(path, "[vdso]") != 0)
                continue;
            struct kx_obj *obj = objs_find(&b->objs, lo);
            bool main_obj = obj != NULL && obj->is_main;
            if ((pass == 0) == main_obj)
                add_map(b, lo, hi, off, path);
        }
    }
    fclose(f);
}

struct kx_pbuild *kx_pbuild_new(void)
{
    struct kx_pbuild *b = kb_calloc(1, sizeof(*b));
    b->p = pprof_new();
    objs_load(&b->objs);
    load_maps(b);
    b->locs = hmap_new(1024);
    b->funcs = hmap_new(1024);
    b->loc_buf = kb_malloc((KX_MAX_DEPTH + 1) * sizeof(*b->loc_buf));
    return b;
}

struct pprof_profile *kx_pbuild_profile(struct kx_pbuild *b)
{
    return b->p;
}

static uint32_t function_id(struct kx_pbuild *b, const char *name)
{
    bool found;
    uint64_t *v = hmap_put(b->funcs, name, strlen(name), &found);
    if (!found) {
        struct pprof_function fn = {0};
        fn.name = pprof_intern_str(b->p, name);
        fn.system_name = fn.name;
        *v = pprof_add_function(b->p, &fn);
    }
    return (uint32_t)*v;
}

static const char *pseudo_name(uintptr_t pc)
{
    switch (pc) {
    case KX_PC_LOST:
        return "[lost samples]";
    case KX_PC_OVERFLOW:
        return "[profile table full]";
    case KX_PC_UNAVAILABLE:
        return "[stack unavailable]";
    default:
        return "[unknown]";
    }
}

static uint32_t location_id(struct kx_pbuild *b, uintptr_t pc)
{
    bool found;
    uint64_t *v = hmap_put(b->locs, &pc, sizeof(pc), &found);
    if (found)
        return (uint32_t)*v;
    struct pprof_line line = {0};
    uint32_t n_lines = 0, mapping_id = 0;
    if (pc < KX_PC_MAX_PSEUDO) {
        line.function_id = function_id(b, pseudo_name(pc));
        n_lines = 1;
    } else {
        struct kx_map *m = NULL;
        for (size_t i = 0; i < b->n_maps; i++)
            if (pc >= b->maps[i].lo && pc < b->maps[i].hi) {
                m = &b->maps[i];
                break;
            }
        const char *name = NULL;
        if (m != NULL) {
            mapping_id = m->id;
            if (m->obj != NULL) {
                pthread_mutex_lock(&symfiles_lock);
                name = obj_lookup(m->obj, pc);
                pthread_mutex_unlock(&symfiles_lock);
            }
            if (name == NULL)
                m->all_named = false;
        }
        if (name != NULL) {
            line.function_id = function_id(b, name);
            n_lines = 1;
        }
    }
    /* hmap_put's slot may move when function_id inserts: look it up again. */
    uint32_t id =
        pprof_add_location(b->p, mapping_id, pc, &line, n_lines, false);
    *hmap_get(b->locs, &pc, sizeof(pc)) = id;
    return id;
}

void kx_pbuild_sample(struct kx_pbuild *b, const uintptr_t *pcs, unsigned depth,
                      const int64_t *values, const char *key, const char *val)
{
    if (depth > KX_MAX_DEPTH)
        depth = KX_MAX_DEPTH;
    for (unsigned i = 0; i < depth; i++)
        b->loc_buf[i] = location_id(b, pcs[i]);
    struct pprof_label label = {0};
    if (key != NULL) {
        label.key = pprof_intern_str(b->p, key);
        label.str = pprof_intern_str(b->p, val);
    }
    pprof_add_sample(b->p, b->loc_buf, depth, values, &label,
                     key != NULL ? 1 : 0);
}

struct pprof_profile *kx_pbuild_finish(struct kx_pbuild *b)
{
    struct pprof_profile *p = b->p;
    for (size_t i = 0; i < b->n_maps; i++) {
        struct pprof_mapping *m = &p->mappings[b->maps[i].id - 1];
        bool syms = b->maps[i].obj != NULL && b->maps[i].obj->syms != NULL &&
                    b->maps[i].obj->syms->n_syms > 0;
        m->has_functions = syms && b->maps[i].all_named;
    }
    objs_free(&b->objs);
    free(b->maps);
    hmap_free(b->locs);
    hmap_free(b->funcs);
    free(b->loc_buf);
    free(b);
    return p;
}
