import CimCarloSupport
import Foundation

/// The values a device formula computes on — one `Double` (model parameters), one `Float` (a
/// single device) or eight devices at once (`SIMD8<Float>`) — so that each effect writes its
/// formula once, generic over this protocol, as swift-numerics writes its elementary functions
/// once for scalars and SIMD vectors.
///
/// `Float` and `SIMD8<Float>` evaluate `exp` and `log` with the same single-precision
/// polynomials (`VectorMath`), so a device gets the same bits whether it is computed alone or
/// in a vector; `Double` uses the C library.
public protocol DeviceLanes {
    init(_ constant: Double)
    static func + (lhs: Self, rhs: Self) -> Self
    static func - (lhs: Self, rhs: Self) -> Self
    static func * (lhs: Self, rhs: Self) -> Self
    static func / (lhs: Self, rhs: Self) -> Self
    static prefix func - (operand: Self) -> Self
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    /// max(x, bound) lane by lane (x where x is NaN).
    static func maximum(_ x: Self, _ bound: Self) -> Self
    /// min(x, bound) lane by lane (x where x is NaN).
    static func minimum(_ x: Self, _ bound: Self) -> Self
    /// |x| lane by lane.
    var absolute: Self { get }
}

extension Double: DeviceLanes {
    @inlinable public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inlinable public static func log(_ x: Double) -> Double { Foundation.log(x) }
    @inlinable public static func maximum(_ x: Double, _ bound: Double) -> Double { x < bound ? bound : x }
    @inlinable public static func minimum(_ x: Double, _ bound: Double) -> Double { x > bound ? bound : x }
    @inlinable public var absolute: Double { Swift.abs(self) }
}

extension Float: DeviceLanes {
    @inline(__always) public static func exp(_ x: Float) -> Float { VectorMath.exp(VectorMath.Lanes(repeating: x))[0] }
    @inline(__always) public static func log(_ x: Float) -> Float { VectorMath.log(VectorMath.Lanes(repeating: x))[0] }
    @inlinable public static func maximum(_ x: Float, _ bound: Float) -> Float { x < bound ? bound : x }
    @inlinable public static func minimum(_ x: Float, _ bound: Float) -> Float { x > bound ? bound : x }
    @inlinable public var absolute: Float { Swift.abs(self) }
}

extension SIMD8: DeviceLanes where Scalar == Float {
    @inlinable public init(_ constant: Double) { self.init(repeating: Float(constant)) }
    @inline(__always) public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.exp(x) }
    @inline(__always) public static func log(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.log(x) }
    @inline(__always) public static func maximum(_ x: SIMD8<Float>, _ bound: SIMD8<Float>) -> SIMD8<Float> {
        x.replacing(with: bound, where: x .< bound)
    }
    @inline(__always) public static func minimum(_ x: SIMD8<Float>, _ bound: SIMD8<Float>) -> SIMD8<Float> {
        x.replacing(with: bound, where: x .> bound)
    }
    @inline(__always) public var absolute: SIMD8<Float> {
        unsafeBitCast(unsafeBitCast(self, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
    }
}

/// Float buffers read and written as lanes of a formula's type.
protocol DeviceStorageLanes: DeviceLanes {
    /// Lanes per value (1 or 8).
    static var laneCount: Int { get }
    static func load(_ pointer: UnsafePointer<Float>, _ index: Int) -> Self
    func store(_ pointer: UnsafeMutablePointer<Float>, _ index: Int)
}

extension Float: DeviceStorageLanes {
    static var laneCount: Int { 1 }
    @inline(__always) static func load(_ pointer: UnsafePointer<Float>, _ index: Int) -> Float { pointer[index] }
    @inline(__always) func store(_ pointer: UnsafeMutablePointer<Float>, _ index: Int) { pointer[index] = self }
}

extension SIMD8: DeviceStorageLanes where Scalar == Float {
    static var laneCount: Int { 8 }
    @inline(__always) static func load(_ pointer: UnsafePointer<Float>, _ index: Int) -> SIMD8<Float> {
        VectorMath.load(pointer, index)
    }
    @inline(__always) package func store(_ pointer: UnsafeMutablePointer<Float>, _ index: Int) {
        VectorMath.store(self, pointer, index)
    }
}
