internal import CHDF5
import Foundation

/// A failure reported by the HDF5 library, with the file and object it concerns.
public struct HDF5Error: CimCarloError, Equatable {
    /// A failing HDF5 call while running (reading a damaged input surfaces as that input's own
    /// error instead).
    public var kind: CimCarloErrorKind { .runtimeFailure }
    /// The file the operation touched.
    public var path: String
    /// What was being done, e.g. `read dataset /layers/00/weight`.
    public var operation: String
    /// Why the system refused, when it said: e.g. "no space left on device", or HDF5's
    /// "checksum mismatch" for bytes changed after they were written.
    public var cause: String?

    package init(path: String, operation: String, cause: String? = nil) {
        self.path = path
        self.operation = operation
        self.cause = cause
    }

    public var description: String { "\(path): cannot \(operation)" + (cause.map { ": " + $0 } ?? "") }
}

/// Debian's libhdf5 is built without thread safety, so every call into it goes
/// through this one lock.
private let hdf5Lock = NSLock()

/// Done once, before the library's first call: no clean-up at exit, which would close (and
/// flush) a file whose write failed — libhdf5 crashes on that. Every file cimcarlo opens is
/// closed by its `HDF5File`'s deinit instead.
private let libraryPrepared: Void = { H5dont_atexit() }()

/// A numeric element type that HDF5 stores natively.
package protocol HDF5Element: Numeric, Sendable {
    /// The HDF5 in-memory type identifier (`H5T_NATIVE_*`), a `hid_t`: spelled `Int64` (what
    /// `hid_t` is) because the C module is imported internally.
    static var hdf5Type: Int64 { get }
    /// Its NumPy name, e.g. "float32" (`ResultSchema`).
    static var typeName: String { get }
    /// The value as a `Double` (exact for every element type but the largest integers).
    var doubleValue: Double { get }
}

extension HDF5Element where Self: BinaryFloatingPoint {
    package var doubleValue: Double { Double(self) }
}

extension HDF5Element where Self: BinaryInteger {
    package var doubleValue: Double { Double(self) }
}

extension Float: HDF5Element {
    package static var hdf5Type: Int64 { cim_H5T_NATIVE_FLOAT() }
    package static var typeName: String { "float32" }
}
extension Double: HDF5Element {
    package static var hdf5Type: Int64 { cim_H5T_NATIVE_DOUBLE() }
    package static var typeName: String { "float64" }
}
extension Int64: HDF5Element {
    package static var hdf5Type: Int64 { cim_H5T_NATIVE_INT64() }
    package static var typeName: String { "int64" }
}
extension Int32: HDF5Element {
    package static var hdf5Type: Int64 { cim_H5T_NATIVE_INT32() }
    package static var typeName: String { "int32" }
}
extension UInt8: HDF5Element {
    package static var hdf5Type: Int64 { cim_H5T_NATIVE_UINT8() }
    package static var typeName: String { "uint8" }
}

/// An open HDF5 file. Closed when the last reference goes away.
///
/// Object paths are absolute (`/layers/00/weight`); intermediate groups are
/// created on write.
// Unchecked: every call into libhdf5 goes through `hdf5Lock`, and the only stored state is
// immutable (the path and the file identifier), so sharing a handle across threads is safe.
package final class HDF5File: @unchecked Sendable {
    /// How to open a file.
    package enum Mode: Sendable {
        /// Read only; the file must exist. Opened for single-writer / multiple-reader access
        /// (SWMR), so a file another process is writing in that mode reads consistently (and
        /// any other file reads as usual).
        case readOnly
        /// Read and write a file the caller owns (holds cimcarlo's lock on): it must exist, and
        /// the marks of a writer that was killed are cleared.
        case readWrite
        /// Create; fails if the file exists.
        case createExclusive
        /// Create, replacing any existing file.
        case createTruncating
        /// Create in HDF5's latest file format, which `startConcurrentReading()` needs; fails
        /// if the file exists.
        case createForConcurrentReading
    }

    package let path: String
    private let fileID: hid_t
    /// The first failed change to the file (guarded by `hdf5Lock`). Once set, the file is
    /// never touched again — not even closed: libhdf5 cannot flush or close a file whose
    /// write failed without crashing.
    private var writeFailure: HDF5Error?
    /// Set by `close()` (guarded by `hdf5Lock`).
    private var closed = false

    package init(path: String, mode: Mode) throws {
        self.path = path
        let id: hid_t = hdf5Lock.withLock {
            libraryPrepared
            // Errors surface as HDF5Error, not as HDF5's own stack dump on stderr.
            cim_H5_silence_errors()
            errno = 0
            let access: hid_t
            switch mode {
            case .readWrite: access = cim_H5P_owner_access()
            case .createForConcurrentReading: access = cim_H5P_latest_format_access()
            case .readOnly, .createExclusive, .createTruncating: access = cim_H5P_strong_close_access()
            }
            defer { H5Pclose(access) }
            switch mode {
            case .readOnly:
                // H5Fopen on a missing file fails cleanly; a non-HDF5 file too.
                return H5Fopen(path, cim_H5F_ACC_RDONLY() | cim_H5F_ACC_SWMR_READ(), access)
            case .readWrite:
                return H5Fopen(path, cim_H5F_ACC_RDWR(), access)
            case .createExclusive, .createForConcurrentReading:
                return H5Fcreate(path, cim_H5F_ACC_EXCL(), cim_H5P_DEFAULT(), access)
            case .createTruncating:
                return H5Fcreate(path, cim_H5F_ACC_TRUNC(), cim_H5P_DEFAULT(), access)
            }
        }
        guard id >= 0 else {
            let what: String
            switch mode {
            case .readOnly, .readWrite:
                what =
                    FileManager.default.fileExists(atPath: path)
                    ? "open it as HDF5 (not an HDF5 file, or damaged)" : "open it (no such file)"
            case .createExclusive, .createTruncating, .createForConcurrentReading:
                what = "create it"
            }
            throw HDF5Error(path: path, operation: what, cause: Self.systemCause())
        }
        fileID = id
    }

    deinit {
        hdf5Lock.withLock {
            if writeFailure == nil && !closed { _ = H5Fclose(fileID) }
        }
    }

    /// Closes the file, writing out whatever the library still holds, and reports a failure to
    /// do so (which the deinit cannot). The handle is unusable afterwards.
    package func close() throws {
        try changing {
            closed = true
            try check(H5Fclose(fileID), "close it")
        }
    }

    /// Starts single-writer / multiple-reader mode (SWMR): from now on readers that open the
    /// file read only what was flushed, consistently, while this process goes on writing.
    /// Groups, datasets and attributes can no longer be created, only written. Returns false,
    /// changing nothing, for a file not in HDF5's latest format (created before
    /// `.createForConcurrentReading` existed).
    @discardableResult
    package func startConcurrentReading() -> Bool {
        locked { H5Fstart_swmr_write(fileID) >= 0 }
    }

    // MARK: - Locking and checking

    /// A creation property list (`H5P_DATASET_CREATE` or `H5P_GROUP_CREATE`) that records no
    /// modification times, so writing the same content twice gives the same bytes.
    private func timelessCreationProperties(_ propertyClass: hid_t) -> hid_t {
        let properties = H5Pcreate(propertyClass)
        H5Pset_obj_track_times(properties, false)
        return properties
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        try hdf5Lock.withLock {
            errno = 0  // so that a failure's cause is its own (`systemCause`)
            return try body()
        }
    }

    /// Runs a change to the file under the lock. The first failure is kept, and every change
    /// after it is refused with that same error without calling the library.
    private func changing<T>(_ body: () throws -> T) throws -> T {
        try hdf5Lock.withLock {
            if let writeFailure { throw writeFailure }
            precondition(!closed, "\(path) is used after it was closed")
            errno = 0
            do {
                return try body()
            } catch let error as HDF5Error {
                writeFailure = error
                throw error
            }
        }
    }

    /// What the system said about the last failure, for the errors a user can act on (a full
    /// disk, a quota, a file-size limit, a read-only or failing device); nil otherwise.
    private static func systemCause() -> String? {
        let code = errno
        guard [ENOSPC, EDQUOT, EFBIG, EIO, EROFS, EACCES].contains(code) else { return nil }
        return String(cString: strerror(code)).lowercased()
    }

    private func check(_ id: hid_t, _ operation: @autoclosure () -> String) throws -> hid_t {
        guard id >= 0 else { throw failure(operation()) }
        return id
    }

    private func check(_ status: herr_t, _ operation: @autoclosure () -> String) throws {
        guard status >= 0 else { throw failure(operation()) }
    }

    private func failure(_ operation: String) -> HDF5Error {
        let cause =
            cim_H5_error_is_checksum() != 0
            ? "checksum mismatch (its bytes changed after they were written)" : Self.systemCause()
        return HDF5Error(path: path, operation: operation, cause: cause)
    }

    // MARK: - Structure

    /// Whether an object (group or dataset) exists at `objectPath`.
    package func exists(_ objectPath: String) -> Bool {
        locked { existsUnlocked(objectPath) }
    }

    private func existsUnlocked(_ objectPath: String) -> Bool {
        var prefix = ""
        for component in objectPath.split(separator: "/") {
            prefix += "/" + component
            if H5Lexists(fileID, prefix, cim_H5P_DEFAULT()) <= 0 { return false }
        }
        return true
    }

    /// Creates the group and any missing parents.
    package func createGroup(_ groupPath: String) throws {
        try changing { try createGroupsUnlocked(groupPath) }
    }

    private func createGroupsUnlocked(_ groupPath: String) throws {
        var prefix = ""
        for component in groupPath.split(separator: "/") {
            prefix += "/" + component
            if H5Lexists(fileID, prefix, cim_H5P_DEFAULT()) > 0 { continue }
            let properties = timelessCreationProperties(cim_H5P_GROUP_CREATE())
            defer { H5Pclose(properties) }
            let group = try check(
                H5Gcreate2(fileID, prefix, cim_H5P_DEFAULT(), properties, cim_H5P_DEFAULT()),
                "create group \(prefix)")
            H5Gclose(group)
        }
    }

    private func createParentsUnlocked(of objectPath: String) throws {
        let parent = (objectPath as NSString).deletingLastPathComponent
        if parent != "/" && !parent.isEmpty { try createGroupsUnlocked(parent) }
    }

    /// Writes buffered data to disk.
    package func flush() throws {
        try changing { try check(H5Fflush(fileID, H5F_SCOPE_GLOBAL), "flush") }
    }

    // MARK: - Numeric datasets

    /// Writes a whole dataset, replacing nothing: the dataset must not exist yet.
    package func write<T: HDF5Element>(_ array: ShapedArray<T>, to datasetPath: String) throws {
        try changing {
            try createParentsUnlocked(of: datasetPath)
            var dims = array.shape.map { hsize_t($0) }
            let space = try check(H5Screate_simple(Int32(dims.count), &dims, nil), "describe \(datasetPath)")
            defer { H5Sclose(space) }
            let properties = timelessCreationProperties(cim_H5P_DATASET_CREATE())
            defer { H5Pclose(properties) }
            let dataset = try check(
                H5Dcreate2(fileID, datasetPath, T.hdf5Type, space, cim_H5P_DEFAULT(), properties, cim_H5P_DEFAULT()),
                "create dataset \(datasetPath)")
            defer { H5Dclose(dataset) }
            try array.values.withUnsafeBufferPointer { buffer in
                try check(
                    H5Dwrite(
                        dataset, T.hdf5Type, cim_H5S_ALL(), cim_H5S_ALL(), cim_H5P_DEFAULT(),
                        buffer.baseAddress), "write dataset \(datasetPath)")
            }
        }
    }

    /// Creates a dataset of `shape` whose unwritten elements read as `fill`. With
    /// `growingRows`, the first dimension is unlimited (chunks of up to `growingRows` rows, each
    /// with a Fletcher32 checksum, all allocated at once) and `extend(_:rows:)` can grow it later.
    package func createDataset<T: HDF5Element>(
        _ datasetPath: String, shape: [Int], fill: T,
        growingRows: Int? = nil
    ) throws {
        try changing {
            try createParentsUnlocked(of: datasetPath)
            var dims = shape.map { hsize_t($0) }
            var maximum = dims
            if growingRows != nil { maximum[0] = cim_H5S_UNLIMITED() }
            let space = try check(H5Screate_simple(Int32(dims.count), &dims, &maximum), "describe \(datasetPath)")
            defer { H5Sclose(space) }
            let properties = timelessCreationProperties(cim_H5P_DATASET_CREATE())
            defer { H5Pclose(properties) }
            if let growingRows {
                var chunk = dims.map { max($0, 1) }
                chunk[0] = hsize_t(max(1, growingRows))
                try check(H5Pset_chunk(properties, Int32(chunk.count), &chunk), "set the chunks of \(datasetPath)")
                // Each chunk carries a Fletcher32 checksum that every read verifies, and all
                // chunks take their place in the file now: writing rows later never grows it.
                try check(H5Pset_fletcher32(properties), "set the checksum of \(datasetPath)")
                try check(H5Pset_alloc_time(properties, H5D_ALLOC_TIME_EARLY), "set the allocation of \(datasetPath)")
            }
            try withUnsafeBytes(of: fill) { bytes in
                try check(
                    H5Pset_fill_value(properties, T.hdf5Type, bytes.baseAddress), "set the fill value of \(datasetPath)"
                )
            }
            let dataset = try check(
                H5Dcreate2(fileID, datasetPath, T.hdf5Type, space, cim_H5P_DEFAULT(), properties, cim_H5P_DEFAULT()),
                "create dataset \(datasetPath)")
            H5Dclose(dataset)
        }
    }

    /// Grows the first dimension of a dataset made with `growingRows` to `rows`; the new
    /// elements read as its fill value.
    package func extend(_ datasetPath: String, rows: Int) throws {
        try changing {
            let dataset = try openDatasetUnlocked(datasetPath)
            defer { H5Dclose(dataset) }
            var dims = try shapeUnlocked(dataset, datasetPath).map { hsize_t($0) }
            dims[0] = hsize_t(rows)
            try check(H5Dset_extent(dataset, &dims), "extend \(datasetPath) to \(rows) rows")
        }
    }

    /// Writes `values` into the block of an existing dataset that starts at `start` and spans `count`.
    package func writeBlock<T: HDF5Element>(_ values: [T], to datasetPath: String, start: [Int], count: [Int]) throws {
        precondition(values.count == count.reduce(1, *), "values do not fill the block")
        try changing {
            let dataset = try openDatasetUnlocked(datasetPath)
            defer { H5Dclose(dataset) }
            let fileSpace = try check(H5Dget_space(dataset), "describe \(datasetPath)")
            defer { H5Sclose(fileSpace) }
            var offsets = start.map { hsize_t($0) }
            var sizes = count.map { hsize_t($0) }
            try check(
                H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &offsets, nil, &sizes, nil),
                "select a block of \(datasetPath)")
            let memorySpace = try check(H5Screate_simple(Int32(sizes.count), &sizes, nil), "describe a block")
            defer { H5Sclose(memorySpace) }
            try values.withUnsafeBufferPointer { buffer in
                try check(
                    H5Dwrite(dataset, T.hdf5Type, memorySpace, fileSpace, cim_H5P_DEFAULT(), buffer.baseAddress),
                    "write a block of \(datasetPath)")
            }
        }
    }

    /// Makes a one-dimensional dataset a dimension scale named `name` and attaches it to
    /// dimension `dimension` of each dataset in `datasets` (HDF5 Dimension Scales, so that
    /// xarray and netCDF readers see named dimensions).
    package func attachDimensionScale(_ scalePath: String, name: String, to datasets: [(path: String, dimension: Int)])
        throws
    {
        try changing {
            let scale = try openDatasetUnlocked(scalePath)
            defer { H5Dclose(scale) }
            if H5DSis_scale(scale) <= 0 {
                try check(H5DSset_scale(scale, name), "make \(scalePath) a dimension scale")
            }
            for (path, dimension) in datasets {
                let dataset = try openDatasetUnlocked(path)
                defer { H5Dclose(dataset) }
                try check(
                    H5DSattach_scale(dataset, scale, UInt32(dimension)),
                    "attach dimension scale \(scalePath) to \(path)")
            }
        }
    }

    /// Convenience for one-dimensional datasets.
    package func write<T: HDF5Element>(_ values: [T], to datasetPath: String) throws {
        try write(ShapedArray(values: values, shape: [values.count]), to: datasetPath)
    }

    /// The shape of a dataset.
    package func shape(of datasetPath: String) throws -> [Int] {
        try locked {
            let dataset = try openDatasetUnlocked(datasetPath)
            defer { H5Dclose(dataset) }
            return try shapeUnlocked(dataset, datasetPath)
        }
    }

    private func openDatasetUnlocked(_ datasetPath: String) throws -> hid_t {
        guard existsUnlocked(datasetPath) else {
            throw HDF5Error(path: path, operation: "find dataset \(datasetPath)")
        }
        return try check(H5Dopen2(fileID, datasetPath, cim_H5P_DEFAULT()), "open dataset \(datasetPath)")
    }

    private func shapeUnlocked(_ dataset: hid_t, _ datasetPath: String) throws -> [Int] {
        let space = try check(H5Dget_space(dataset), "read the shape of \(datasetPath)")
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0 else { throw HDF5Error(path: path, operation: "read the shape of \(datasetPath)") }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        H5Sget_simple_extent_dims(space, &dims, nil)
        return dims.map { Int($0) }
    }

    /// Whether a dataset stores unsigned 8-bit integers (pixels in 0...255).
    package func isUInt8(_ datasetPath: String) throws -> Bool {
        try locked {
            let dataset = try openDatasetUnlocked(datasetPath)
            defer { H5Dclose(dataset) }
            let fileType = H5Dget_type(dataset)
            defer { H5Tclose(fileType) }
            return H5Tget_class(fileType) == H5T_INTEGER && H5Tget_size(fileType) == 1
                && H5Tget_sign(fileType) == H5T_SGN_NONE
        }
    }

    /// Reads a whole numeric dataset, converting to `T` (HDF5 converts between numeric types).
    package func read<T: HDF5Element>(_ datasetPath: String, as type: T.Type = T.self) throws -> ShapedArray<T> {
        try locked {
            let dataset = try openDatasetUnlocked(datasetPath)
            defer { H5Dclose(dataset) }
            let fileType = H5Dget_type(dataset)
            defer { H5Tclose(fileType) }
            let typeClass = H5Tget_class(fileType)
            guard typeClass == H5T_FLOAT || typeClass == H5T_INTEGER else {
                throw HDF5Error(path: path, operation: "read dataset \(datasetPath) as numbers (it is not numeric)")
            }
            let shape = try shapeUnlocked(dataset, datasetPath)
            var values = [T](repeating: 0, count: shape.reduce(1, *))
            if !values.isEmpty {
                try values.withUnsafeMutableBufferPointer { buffer in
                    try check(
                        H5Dread(
                            dataset, T.hdf5Type, cim_H5S_ALL(), cim_H5S_ALL(), cim_H5P_DEFAULT(),
                            buffer.baseAddress), "read dataset \(datasetPath)")
                }
            }
            return ShapedArray(values: values, shape: shape)
        }
    }

    // MARK: - String datasets

    private func makeStringType() -> hid_t {
        let type = H5Tcopy(cim_H5T_C_S1())
        H5Tset_size(type, cim_H5T_VARIABLE())
        H5Tset_cset(type, H5T_CSET_UTF8)
        return type
    }

    /// Writes a one-dimensional dataset of variable-length UTF-8 strings.
    package func write(strings: [String], to datasetPath: String) throws {
        try changing {
            try createParentsUnlocked(of: datasetPath)
            let type = makeStringType()
            defer { H5Tclose(type) }
            var dims = [hsize_t(strings.count)]
            let space = try check(H5Screate_simple(1, &dims, nil), "describe \(datasetPath)")
            defer { H5Sclose(space) }
            let properties = timelessCreationProperties(cim_H5P_DATASET_CREATE())
            defer { H5Pclose(properties) }
            let dataset = try check(
                H5Dcreate2(fileID, datasetPath, type, space, cim_H5P_DEFAULT(), properties, cim_H5P_DEFAULT()),
                "create dataset \(datasetPath)")
            defer { H5Dclose(dataset) }
            try withCStringPointers(strings) { pointers in
                try check(
                    H5Dwrite(dataset, type, cim_H5S_ALL(), cim_H5S_ALL(), cim_H5P_DEFAULT(), pointers),
                    "write dataset \(datasetPath)")
            }
        }
    }

    /// Reads a one-dimensional dataset of strings (variable or fixed length).
    package func readStrings(_ datasetPath: String) throws -> [String] {
        try locked {
            let dataset = try openDatasetUnlocked(datasetPath)
            defer { H5Dclose(dataset) }
            let count = try shapeUnlocked(dataset, datasetPath).reduce(1, *)
            let fileType = H5Dget_type(dataset)
            defer { H5Tclose(fileType) }
            guard H5Tget_class(fileType) == H5T_STRING else {
                throw HDF5Error(path: path, operation: "read dataset \(datasetPath) as strings (it is not text)")
            }
            return try readStringsUnlocked(count: count, fileType: fileType, what: "read dataset \(datasetPath)") {
                memType, buffer in H5Dread(dataset, memType, cim_H5S_ALL(), cim_H5S_ALL(), cim_H5P_DEFAULT(), buffer)
            }
        }
    }

    /// Reads `count` strings of `fileType` through `reader(memoryType, buffer)`,
    /// shared by datasets and attributes.
    private func readStringsUnlocked(
        count: Int, fileType: hid_t, what: String,
        reader: (hid_t, UnsafeMutableRawPointer) -> herr_t
    ) throws -> [String] {
        if H5Tis_variable_str(fileType) > 0 {
            let memType = makeStringType()
            defer { H5Tclose(memType) }
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            try pointers.withUnsafeMutableBytes { raw in
                try check(reader(memType, raw.baseAddress!), what)
            }
            defer {
                for pointer in pointers { free(pointer) }
            }
            return pointers.map { $0.map { String(cString: $0) } ?? "" }
        }
        let size = H5Tget_size(fileType)
        let memType = H5Tcopy(cim_H5T_C_S1())
        defer { H5Tclose(memType) }
        H5Tset_size(memType, size)
        var bytes = [UInt8](repeating: 0, count: max(1, size * count))
        try bytes.withUnsafeMutableBytes { raw in
            try check(reader(memType, raw.baseAddress!), what)
        }
        return (0..<count).map { index in
            let slice = bytes[(index * size)..<((index + 1) * size)]
            return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    // MARK: - Attributes

    /// Sets a string attribute on a group or dataset (replacing an existing one).
    package func setAttribute(_ name: String, _ value: String, on objectPath: String = "/") throws {
        try changing {
            let type = makeStringType()
            defer { H5Tclose(type) }
            let space = H5Screate(H5S_SCALAR)
            defer { H5Sclose(space) }
            try withAttributeUnlocked(name, on: objectPath, type: type, space: space) { attribute in
                try withCStringPointers([value]) { pointers in
                    try check(H5Awrite(attribute, type, pointers), "write attribute \(name) on \(objectPath)")
                }
            }
        }
    }

    /// Sets an attribute holding a one-dimensional array of strings (replacing an existing one).
    package func setAttribute(_ name: String, strings: [String], on objectPath: String = "/") throws {
        try changing {
            let type = makeStringType()
            defer { H5Tclose(type) }
            var dims = [hsize_t(strings.count)]
            let space = H5Screate_simple(1, &dims, nil)
            defer { H5Sclose(space) }
            try withAttributeUnlocked(name, on: objectPath, type: type, space: space) { attribute in
                try withCStringPointers(strings) { pointers in
                    try check(H5Awrite(attribute, type, pointers), "write attribute \(name) on \(objectPath)")
                }
            }
        }
    }

    /// Sets a numeric attribute: a scalar when `values` has one element and `asArray` is false.
    package func setAttribute<T: HDF5Element>(
        _ name: String, _ values: [T], asArray: Bool = true,
        on objectPath: String = "/"
    ) throws {
        try changing {
            var dims = [hsize_t(values.count)]
            let space = asArray ? H5Screate_simple(1, &dims, nil) : H5Screate(H5S_SCALAR)
            defer { H5Sclose(space) }
            try withAttributeUnlocked(name, on: objectPath, type: T.hdf5Type, space: space) { attribute in
                try values.withUnsafeBufferPointer { buffer in
                    try check(
                        H5Awrite(attribute, T.hdf5Type, buffer.baseAddress),
                        "write attribute \(name) on \(objectPath)")
                }
            }
        }
    }

    /// Sets a numeric scalar attribute.
    package func setAttribute<T: HDF5Element>(_ name: String, _ value: T, on objectPath: String = "/") throws {
        try setAttribute(name, [value], asArray: false, on: objectPath)
    }

    private func withAttributeUnlocked(
        _ name: String, on objectPath: String, type: hid_t, space: hid_t,
        _ body: (hid_t) throws -> Void
    ) throws {
        if H5Aexists_by_name(fileID, objectPath, name, cim_H5P_DEFAULT()) > 0 {
            // Same type and shape: overwrite the value in place, so a counter updated after every
            // instance never leaves the object header half rewritten if the process dies.
            let existing = try check(
                H5Aopen_by_name(fileID, objectPath, name, cim_H5P_DEFAULT(), cim_H5P_DEFAULT()),
                "open attribute \(name) on \(objectPath)")
            let existingType = H5Aget_type(existing)
            let existingSpace = H5Aget_space(existing)
            let sameType = H5Tequal(existingType, type) > 0
            let sameShape = H5Sextent_equal(existingSpace, space) > 0
            H5Tclose(existingType)
            H5Sclose(existingSpace)
            if sameType && sameShape {
                defer { H5Aclose(existing) }
                try body(existing)
                return
            }
            H5Aclose(existing)
            try check(
                H5Adelete_by_name(fileID, objectPath, name, cim_H5P_DEFAULT()),
                "replace attribute \(name) on \(objectPath)")
        }
        let attribute = try check(
            H5Acreate_by_name(
                fileID, objectPath, name, type, space,
                cim_H5P_DEFAULT(), cim_H5P_DEFAULT(), cim_H5P_DEFAULT()),
            "create attribute \(name) on \(objectPath)")
        defer { H5Aclose(attribute) }
        try body(attribute)
    }

    private func openAttributeUnlocked(_ name: String, on objectPath: String) throws -> hid_t {
        guard existsUnlocked(objectPath), H5Aexists_by_name(fileID, objectPath, name, cim_H5P_DEFAULT()) > 0 else {
            throw HDF5Error(path: path, operation: "find attribute \(name) on \(objectPath)")
        }
        return try check(
            H5Aopen_by_name(fileID, objectPath, name, cim_H5P_DEFAULT(), cim_H5P_DEFAULT()),
            "open attribute \(name) on \(objectPath)")
    }

    /// Reads a string attribute (one string).
    package func stringAttribute(_ name: String, on objectPath: String = "/") throws -> String {
        let values = try stringsAttribute(name, on: objectPath)
        guard values.count == 1 else {
            throw HDF5Error(path: path, operation: "read attribute \(name) on \(objectPath) as one string")
        }
        return values[0]
    }

    /// Reads a string attribute, scalar or array, as an array of strings.
    package func stringsAttribute(_ name: String, on objectPath: String = "/") throws -> [String] {
        try locked {
            let attribute = try openAttributeUnlocked(name, on: objectPath)
            defer { H5Aclose(attribute) }
            let fileType = H5Aget_type(attribute)
            defer { H5Tclose(fileType) }
            guard H5Tget_class(fileType) == H5T_STRING else {
                throw HDF5Error(path: path, operation: "read attribute \(name) on \(objectPath) as text")
            }
            let space = H5Aget_space(attribute)
            defer { H5Sclose(space) }
            let count = Int(H5Sget_simple_extent_npoints(space))
            return try readStringsUnlocked(
                count: count, fileType: fileType,
                what: "read attribute \(name) on \(objectPath)"
            ) { memType, buffer in
                H5Aread(attribute, memType, buffer)
            }
        }
    }

    /// Whether `objectPath` carries attribute `name`.
    package func hasAttribute(_ name: String, on objectPath: String = "/") -> Bool {
        locked {
            existsUnlocked(objectPath) && H5Aexists_by_name(fileID, objectPath, name, cim_H5P_DEFAULT()) > 0
        }
    }

    /// Reads a numeric attribute (scalar or array) as an array.
    package func numericAttribute<T: HDF5Element>(
        _ name: String, on objectPath: String = "/",
        as type: T.Type = T.self
    ) throws -> [T] {
        try locked {
            let attribute = try openAttributeUnlocked(name, on: objectPath)
            defer { H5Aclose(attribute) }
            let fileType = H5Aget_type(attribute)
            defer { H5Tclose(fileType) }
            let typeClass = H5Tget_class(fileType)
            guard typeClass == H5T_FLOAT || typeClass == H5T_INTEGER else {
                throw HDF5Error(path: path, operation: "read attribute \(name) on \(objectPath) as numbers")
            }
            let space = H5Aget_space(attribute)
            defer { H5Sclose(space) }
            var values = [T](repeating: 0, count: Int(H5Sget_simple_extent_npoints(space)))
            try values.withUnsafeMutableBufferPointer { buffer in
                try check(
                    H5Aread(attribute, T.hdf5Type, buffer.baseAddress),
                    "read attribute \(name) on \(objectPath)")
            }
            return values
        }
    }

    /// Reads a numeric scalar attribute.
    package func scalarAttribute<T: HDF5Element>(
        _ name: String, on objectPath: String = "/",
        as type: T.Type = T.self
    ) throws -> T {
        let values: [T] = try numericAttribute(name, on: objectPath)
        guard values.count == 1 else {
            throw HDF5Error(path: path, operation: "read attribute \(name) on \(objectPath) as one number")
        }
        return values[0]
    }
}

/// Calls `body` with a C array of pointers to NUL-terminated copies of `strings`.
private func withCStringPointers<R>(
    _ strings: [String],
    _ body: (UnsafeRawPointer) throws -> R
) rethrows -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    return try copies.withUnsafeBufferPointer { try body(UnsafeRawPointer($0.baseAddress!)) }
}
