import Foundation

/// The natural logarithm; `f' = 1/x`.
public struct Log: ElementwiseFunction, Equatable {
    public init() {}
    public static let kind = "log"
    @inline(__always) public func value(_ x: Float) -> Float { log(x) }
    @inline(__always) public func derivative(_ x: Float) -> Float { 1 / x }
}
