internal import CZlib
import Foundation

/// The IDX format of the MNIST family (LeCun et al.): a big-endian header
/// `0x00 0x00 <type> <rank>`, `rank` big-endian uint32 dimensions, then the
/// row-major payload. cimcarlo reads unsigned-byte payloads (type 0x08), gzip
/// compressed or not.
public struct IDXFile: Sendable, Equatable {
    /// Dimensions from the header, outermost first.
    public var dimensions: [Int]
    /// The payload, `dimensions.reduce(1, *)` bytes.
    public var bytes: [UInt8]

    public init(dimensions: [Int], bytes: [UInt8]) {
        self.dimensions = dimensions
        self.bytes = bytes
    }

    /// Reads and checks an IDX file (`.gz` or plain; zlib reads both).
    public init(contentsOf path: String) throws {
        let data = try Self.readDecompressed(path)
        try self.init(parsing: data, path: path)
    }

    /// Parses IDX bytes; `path` only labels errors.
    public init(parsing data: [UInt8], path: String) throws {
        guard data.count >= 4 else {
            throw DatasetError.malformed(path: path, reason: "IDX header truncated (\(data.count) bytes)")
        }
        guard data[0] == 0, data[1] == 0 else {
            throw DatasetError.malformed(path: path, reason: "not an IDX file (magic number must start with 0x0000)")
        }
        guard data[2] == 0x08 else {
            throw DatasetError.malformed(
                path: path,
                reason: "IDX element type 0x\(String(data[2], radix: 16)) unsupported (allowed: 0x08, unsigned byte)")
        }
        let rank = Int(data[3])
        guard (1...4).contains(rank) else {
            throw DatasetError.malformed(path: path, reason: "IDX rank \(rank) unsupported (allowed: 1 to 4)")
        }
        let headerSize = 4 + 4 * rank
        guard data.count >= headerSize else {
            throw DatasetError.malformed(
                path: path, reason: "IDX header truncated (\(data.count) bytes, needs \(headerSize))")
        }
        var dimensions: [Int] = []
        for axis in 0..<rank {
            let offset = 4 + 4 * axis
            let value = data[offset..<(offset + 4)].reduce(0) { ($0 << 8) | Int($1) }
            dimensions.append(value)
        }
        let (payload, overflow) = dimensions.reduce((1, false)) { partial, dimension in
            let (product, overflowed) = partial.0.multipliedReportingOverflow(by: dimension)
            return (product, partial.1 || overflowed)
        }
        guard !overflow, data.count - headerSize == payload else {
            throw DatasetError.malformed(
                path: path,
                reason:
                    "IDX payload is \(data.count - headerSize) bytes, header \(dimensions) says \(payload) (truncated or padded file)"
            )
        }
        self.dimensions = dimensions
        self.bytes = Array(data[headerSize...])
    }

    /// The serialised form (uncompressed), for writing test fixtures.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
        for dimension in dimensions {
            out += [
                UInt8((dimension >> 24) & 0xFF), UInt8((dimension >> 16) & 0xFF),
                UInt8((dimension >> 8) & 0xFF), UInt8(dimension & 0xFF),
            ]
        }
        return out + bytes
    }

    /// Writes the file gzip-compressed (as Fashion-MNIST ships), e.g. for test fixtures.
    public func writeGzip(to path: String) throws {
        guard let file = gzopen(path, "wb") else {
            throw DatasetError.writeFailed(path: path, reason: "cannot open for writing")
        }
        let data = serialized()
        let written = data.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
        guard gzclose(file) == Z_OK, written == data.count else {
            throw DatasetError.writeFailed(path: path, reason: "cannot write gzip data")
        }
    }

    private static func readDecompressed(_ path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatasetError.missingFile(
                path: path, hint: "Fashion-MNIST comes from `apt-get install dataset-fashion-mnist`")
        }
        guard let file = gzopen(path, "rb") else {
            throw DatasetError.malformed(path: path, reason: "cannot open for reading")
        }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let read = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if read < 0 {
                gzclose(file)
                throw DatasetError.malformed(path: path, reason: "gzip data is damaged")
            }
            if read == 0 { break }
            result.append(contentsOf: chunk[0..<Int(read)])
        }
        // gzclose reports Z_BUF_ERROR when the stream ended early (truncated .gz).
        let status = gzclose(file)
        guard status == Z_OK else {
            throw DatasetError.malformed(path: path, reason: "gzip stream is truncated or damaged")
        }
        return result
    }
}
