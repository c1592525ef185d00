import Foundation

/// A constant tensor of an ONNX graph (an initializer, a `Constant` node's value, or a value
/// folded at load), its values widened to `Double` (float, double, integer and bool element
/// types), row-major.
struct ONNXTensor {
    var dims: [Int]
    var values: [Double]
    /// Whether the element type is an integer or bool (integer division truncates).
    var integral = false

    var count: Int { values.count }
    var floats: [Float] { values.map(Float.init) }
    var isScalar: Bool { values.count == 1 }
    /// The values as integers (shape arithmetic), clamped to ±2⁶² so that ONNX's "to the end"
    /// sentinels (`INT64_MAX`) convert safely.
    var integers: [Int] { values.map { Int(max(min($0, 4.6e18), -4.6e18)) } }

    init(dims: [Int], values: [Double], integral: Bool = false) {
        self.dims = dims
        self.values = values
        self.integral = integral
    }

    /// Decodes a TensorProto; `externalData` reads the bytes of a tensor stored outside the
    /// model; `fail` names the problem in an error.
    init(_ proto: Onnx_TensorProto, externalData: ExternalData? = nil, fail: (String) -> Error) throws {
        dims = proto.dims.map(Int.init)
        guard dims.allSatisfy({ $0 >= 0 }) else { throw fail("tensor `\(proto.name)` has a negative dimension") }
        var count = 1
        for dimension in dims {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= 1 << 40 else {
                throw fail("tensor `\(proto.name)` has dimensions \(dims), whose product is too large")
            }
            count = product
        }
        var raw = proto.rawData
        var hasRaw = proto.hasRawData
        if proto.dataLocation == .external {
            guard let externalData else {
                throw fail("tensor `\(proto.name)` keeps its data in an external file, and no model folder is known")
            }
            let elementSizes: [Onnx_TensorProto.DataType: Int] = [
                .float: 4, .double: 8, .int64: 8, .int32: 4, .int8: 1, .uint8: 1, .bool: 1,
            ]
            let size = Onnx_TensorProto.DataType(rawValue: Int(proto.dataType)).flatMap { elementSizes[$0] } ?? 1
            raw = try externalData.bytes(of: proto, needed: count * size, fail: fail)
            hasRaw = true
        }
        func decode<T>(_ type: T.Type, _ convert: (T) -> Double) throws -> [Double] {
            guard raw.count == count * MemoryLayout<T>.size else {
                throw fail("tensor `\(proto.name)` holds \(raw.count) bytes for \(count) values")
            }
            return raw.withUnsafeBytes { bytes in
                (0..<count).map { convert(bytes.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
            }
        }
        switch Onnx_TensorProto.DataType(rawValue: Int(proto.dataType)) {
        case .float?:
            values = hasRaw ? try decode(Float.self) { Double($0) } : proto.floatData.map(Double.init)
        case .double?:
            values = hasRaw ? try decode(Double.self) { $0 } : proto.doubleData
        case .int64?:
            values = hasRaw ? try decode(Int64.self) { Double($0) } : proto.int64Data.map(Double.init)
        case .int32?:
            values = hasRaw ? try decode(Int32.self) { Double($0) } : proto.int32Data.map(Double.init)
        case .int8?:
            values = hasRaw ? try decode(Int8.self) { Double($0) } : proto.int32Data.map(Double.init)
        case .uint8?:
            values = hasRaw ? try decode(UInt8.self) { Double($0) } : proto.int32Data.map(Double.init)
        case .bool?:
            values = hasRaw ? try decode(UInt8.self) { $0 == 0 ? 0 : 1 } : proto.int32Data.map { $0 == 0 ? 0 : 1 }
        default:
            throw fail(
                "tensor `\(proto.name)` has element type \(proto.dataType); cimcarlo reads float, double, int8/32/64, uint8 and bool"
            )
        }
        integral = ![.float, .double].contains(Onnx_TensorProto.DataType(rawValue: Int(proto.dataType)))
        guard values.count == count else {
            throw fail("tensor `\(proto.name)` holds \(values.count) values for its shape \(dims)")
        }
    }
}

/// The files beside an ONNX model that hold its external tensors (ONNX's external-data
/// convention: `location` relative to the model's folder, `offset` and `length` in bytes).
/// Each file is mapped once; every read is bounds-checked.
final class ExternalData {
    /// The model's folder, standardised.
    let folder: URL
    private var files: [String: Data] = [:]
    /// The files read, by location as written in the model.
    private(set) var locations: [String] = []

    init(modelPath: String) {
        folder = URL(fileURLWithPath: modelPath).deletingLastPathComponent().standardizedFileURL
    }

    /// The bytes of `proto`: `length` bytes from `offset`, or the `needed` bytes when no length is written.
    func bytes(of proto: Onnx_TensorProto, needed: Int, fail: (String) -> Error) throws -> Data {
        let entries = Dictionary(proto.externalData.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        guard let location = entries["location"], !location.isEmpty else {
            throw fail("tensor `\(proto.name)` is external but names no `location`")
        }
        let url = folder.appendingPathComponent(location).standardizedFileURL
        guard !location.hasPrefix("/"), url.path.hasPrefix(folder.path + "/") else {
            throw fail(
                "tensor `\(proto.name)`: its external data `\(location)` lies outside the model's folder \(folder.path) (only files beside the model are read)"
            )
        }
        if files[location] == nil {
            guard let data = try? Data(contentsOf: url, options: .alwaysMapped) else {
                throw fail("tensor `\(proto.name)`: its external data file \(url.path) is missing or unreadable")
            }
            files[location] = data
            locations.append(location)
        }
        let data = files[location]!
        guard let offset = Int(entries["offset"] ?? "0"), offset >= 0 else {
            throw fail("tensor `\(proto.name)`: external data offset `\(entries["offset"]!)` is not a byte count")
        }
        let available = data.count - offset
        let length: Int
        if let written = entries["length"] {
            guard let value = Int(written), value >= 0 else {
                throw fail("tensor `\(proto.name)`: external data length `\(written)` is not a byte count")
            }
            length = value
        } else {
            length = needed
        }
        guard offset <= data.count, length <= available else {
            throw fail(
                "tensor `\(proto.name)`: external data file \(url.path) has \(data.count) bytes, too short for offset \(offset) + length \(length)"
            )
        }
        return data.subdata(in: offset..<(offset + length))
    }
}

extension Onnx_NodeProto {
    /// The attribute called `name`, if present.
    func attribute(_ name: String) -> Onnx_AttributeProto? { attribute.first { $0.name == name } }

    func int(_ name: String, default fallback: Int) -> Int {
        attribute(name).map { Int($0.i) } ?? fallback
    }

    func ints(_ name: String) -> [Int]? { attribute(name).map { $0.ints.map(Int.init) } }

    func float(_ name: String, default fallback: Float) -> Float { attribute(name)?.f ?? fallback }

    func string(_ name: String, default fallback: String) -> String {
        attribute(name).map { String(decoding: $0.s, as: UTF8.self) } ?? fallback
    }
}
