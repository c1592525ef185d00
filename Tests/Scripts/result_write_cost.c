// What recording one instance costs in a result file, with and without each of the fault
// protections: Fletcher32 checksums with chunks allocated up front, and single-writer /
// multiple-reader (SWMR) mode in HDF5's latest format. It writes the quickstart's rows
// (accuracy and loss [n, 2, 2] float32, write_cycles and programming_time_s [n, 2] float64,
// completed [n] uint8, chunks of min(n, 256) rows) one instance at a time, each followed by the
// instances_completed attribute and a flush, as ResultFile.record does, and prints microseconds
// per instance, median of 5 files.
//   cc -O2 Tests/Scripts/result_write_cost.c -o /tmp/result_write_cost $(pkg-config --cflags --libs hdf5)
//   /tmp/result_write_cost /tmp 200
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static hid_t dataset(hid_t file, const char *name, hid_t type, int rank, hsize_t n, hsize_t chunk_rows,
                     int checksums) {
    hsize_t dims[3] = {n, 2, 2}, maximum[3] = {H5S_UNLIMITED, 2, 2}, chunk[3] = {chunk_rows, 2, 2};
    hid_t space = H5Screate_simple(rank, dims, maximum);
    hid_t properties = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(properties, rank, chunk);
    if (checksums) {
        H5Pset_fletcher32(properties);
        H5Pset_alloc_time(properties, H5D_ALLOC_TIME_EARLY);
    }
    hid_t id = H5Dcreate2(file, name, type, space, H5P_DEFAULT, properties, H5P_DEFAULT);
    H5Pclose(properties);
    H5Sclose(space);
    return id;
}

static void write_row(hid_t id, hid_t type, int rank, hsize_t row, const void *values) {
    hsize_t start[3] = {row, 0, 0}, count[3] = {1, 2, 2};
    hid_t file_space = H5Dget_space(id);
    H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t memory_space = H5Screate_simple(rank, count, NULL);
    H5Dwrite(id, type, memory_space, file_space, H5P_DEFAULT, values);
    H5Sclose(memory_space);
    H5Sclose(file_space);
}

static double run(const char *path, hsize_t n, int checksums, int swmr) {
    hid_t access = H5Pcreate(H5P_FILE_ACCESS);
    if (swmr) H5Pset_libver_bounds(access, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, access);
    hsize_t chunk = n < 256 ? n : 256;
    hid_t accuracy = dataset(file, "accuracy", H5T_NATIVE_FLOAT, 3, n, chunk, checksums);
    hid_t loss = dataset(file, "loss", H5T_NATIVE_FLOAT, 3, n, chunk, checksums);
    hid_t cycles = dataset(file, "write_cycles", H5T_NATIVE_DOUBLE, 2, n, chunk, checksums);
    hid_t seconds = dataset(file, "programming_time_s", H5T_NATIVE_DOUBLE, 2, n, chunk, checksums);
    hid_t completed = dataset(file, "completed", H5T_NATIVE_UINT8, 1, n, chunk, checksums);
    hid_t scalar = H5Screate(H5S_SCALAR);
    hid_t attribute = H5Acreate2(file, "instances_completed", H5T_NATIVE_INT64, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Aclose(attribute);
    H5Fflush(file, H5F_SCOPE_GLOBAL);
    if (swmr) H5Fstart_swmr_write(file);
    float four[4] = {0.85f, 0.86f, 0.87f, 0.88f};
    double two[2] = {491800, 1395000};
    unsigned char one = 1;
    double started = now();
    for (hsize_t row = 0; row < n; row++) {
        write_row(accuracy, H5T_NATIVE_FLOAT, 3, row, four);
        write_row(loss, H5T_NATIVE_FLOAT, 3, row, four);
        write_row(cycles, H5T_NATIVE_DOUBLE, 2, row, two);
        write_row(seconds, H5T_NATIVE_DOUBLE, 2, row, two);
        write_row(completed, H5T_NATIVE_UINT8, 1, row, &one);
        long long done = (long long)row + 1;
        attribute = H5Aopen(file, "instances_completed", H5P_DEFAULT);
        H5Awrite(attribute, H5T_NATIVE_INT64, &done);
        H5Aclose(attribute);
        H5Fflush(file, H5F_SCOPE_GLOBAL);
    }
    double elapsed = now() - started;
    H5Sclose(scalar);
    H5Dclose(accuracy); H5Dclose(loss); H5Dclose(cycles); H5Dclose(seconds); H5Dclose(completed);
    H5Fclose(file);
    H5Pclose(access);
    return 1e6 * elapsed / n;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *folder = argc > 1 ? argv[1] : "/tmp";
    hsize_t n = argc > 2 ? (hsize_t)atoll(argv[2]) : 200;
    const char *names[4] = {"plain (before)", "checksums", "SWMR", "checksums + SWMR (now)"};
    for (int variant = 0; variant < 4; variant++) {
        double times[5];
        char path[4096];
        snprintf(path, sizeof path, "%s/result_write_cost.h5", folder);
        for (int repeat = 0; repeat < 5; repeat++) times[repeat] = run(path, n, variant & 1, variant >> 1);
        qsort(times, 5, sizeof times[0], compare);
        printf("%-24s %8.1f us per instance (n = %llu)\n", names[variant], times[2], (unsigned long long)n);
        remove(path);
    }
    return 0;
}
