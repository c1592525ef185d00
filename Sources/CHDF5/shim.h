// HDF5 C API (Debian's serial build, include path from pkg-config `hdf5`)
// plus the high-level dimension-scale API. The predefined type and property
// identifiers are macros over global variables that Swift cannot import;
// these one-liners expose them as functions.
#include <hdf5.h>
#include <hdf5_hl.h>
#include <string.h>

static inline hid_t cim_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t cim_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t cim_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t cim_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t cim_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t cim_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t cim_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t cim_H5T_C_S1(void) { return H5T_C_S1; }
static inline hid_t cim_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t cim_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t cim_H5P_GROUP_CREATE(void) { return H5P_GROUP_CREATE; }
static inline unsigned cim_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned cim_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline unsigned cim_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned cim_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline size_t cim_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline hsize_t cim_H5S_UNLIMITED(void) { return H5S_UNLIMITED; }

/// Silences HDF5's automatic error stack printing; errors surface through
/// cimcarlo's own messages instead.
static inline void cim_H5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static inline unsigned cim_H5F_ACC_SWMR_READ(void) { return H5F_ACC_SWMR_READ; }

/// A file-access property list whose close is strong: closing the file closes every object
/// still open in it and the file itself, at once, so no file stays open behind a closed
/// handle (every cimcarlo open uses it: HDF5 refuses to open one file with two degrees).
static inline hid_t cim_H5P_strong_close_access(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    return fapl;
}

/// A file-access property list for a file its opener owns (cimcarlo's own lock is held): it
/// clears the superblock's "open for writing" marks a killed writer left behind, as the
/// `h5clear -s` tool does (its private property `clear_status_flags`, HDF5 1.10).
static inline hid_t cim_H5P_owner_access(void) {
    hid_t fapl = cim_H5P_strong_close_access();
    hbool_t clear = 1;
    if (H5Pset(fapl, "clear_status_flags", &clear) < 0) { H5Eclear2(H5E_DEFAULT); }
    return fapl;
}

/// A file-access property list for files written in the latest format, which single-writer /
/// multiple-reader (SWMR) access needs.
static inline hid_t cim_H5P_latest_format_access(void) {
    hid_t fapl = cim_H5P_owner_access();
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    return fapl;
}

static herr_t cim_H5_error_walker(unsigned n, const H5E_error2_t *error, void *found) {
    (void)n;
    if (error->desc && strstr(error->desc, "checksum")) { *(int *)found = 1; }
    return 0;
}

/// Whether the current HDF5 error stack reports a failed checksum (a Fletcher32-filtered
/// chunk whose bytes changed after it was written).
static inline int cim_H5_error_is_checksum(void) {
    int found = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, cim_H5_error_walker, &found);
    return found;
}
