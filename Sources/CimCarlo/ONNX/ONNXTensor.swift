import Foundation

/// A constant tensor of an ONNX graph (an initializer or a `Constant` node's value), its
/// values widened to `Double` (float, double, int32 and int64 element types).
struct ONNXTensor {
    var dims: [Int]
    var values: [Double]

    var count: Int { values.count }
    var floats: [Float] { values.map(Float.init) }
    var isScalar: Bool { values.count == 1 }

    init(dims: [Int], values: [Double]) {
        self.dims = dims
        self.values = values
    }

    /// Decodes a TensorProto; `describe` names it in errors.
    init(_ proto: Onnx_TensorProto, fail: (String) -> Error) throws {
        guard proto.dataLocation != .external else {
            throw fail(
                "tensor `\(proto.name)` keeps its data in an external file, which cimcarlo does not read (save the model with the weights inside)"
            )
        }
        dims = proto.dims.map(Int.init)
        guard dims.allSatisfy({ $0 >= 0 }) else { throw fail("tensor `\(proto.name)` has a negative dimension") }
        let count = dims.reduce(1, *)
        let raw = proto.rawData
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
            values = proto.hasRawData ? try decode(Float.self) { Double($0) } : proto.floatData.map(Double.init)
        case .double?:
            values = proto.hasRawData ? try decode(Double.self) { $0 } : proto.doubleData
        case .int64?:
            values = proto.hasRawData ? try decode(Int64.self) { Double($0) } : proto.int64Data.map(Double.init)
        case .int32?:
            values = proto.hasRawData ? try decode(Int32.self) { Double($0) } : proto.int32Data.map(Double.init)
        default:
            throw fail(
                "tensor `\(proto.name)` has element type \(proto.dataType); cimcarlo reads float, double, int32 and int64"
            )
        }
        guard values.count == count else {
            throw fail("tensor `\(proto.name)` holds \(values.count) values for its shape \(dims)")
        }
    }

    /// The values broadcast per channel (or per feature of a flat tensor): a scalar, or one
    /// value per channel laid out as `[C]`, `[1, C]`, `[C, 1, 1]` or `[1, C, 1, 1]`.
    func perChannel(_ channels: Int) -> [Double]? {
        if values.count == 1 { return Array(repeating: values[0], count: channels) }
        let layouts = [[channels], [1, channels], [channels, 1, 1], [1, channels, 1, 1]]
        return layouts.contains(dims) ? values : nil
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
