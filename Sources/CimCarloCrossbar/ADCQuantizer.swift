/// A uniform ADC with `bits` of resolution covering `[low, high]`: `2^bits` levels spaced
/// `Δ = (high − low) / (2^bits − 1)` on a grid that contains 0 (zero current reads as code
/// zero, so sparse inputs add no offset), inputs beyond the end levels clipped to them,
/// ties rounded to the even level.
/// Inside the levels the error is at most Δ/2, and for inputs spread evenly it is uniform,
/// mean squared error Δ²/12 (Widrow & Kollár, *Quantization Noise*, 2008).
public struct ADCQuantizer: Sendable, Equatable {
    public let bits: Int
    /// The level spacing Δ.
    public let step: Float
    /// The lowest and highest level, in units of Δ.
    public let lowestCode: Float
    public let highestCode: Float

    public init(low: Float, high: Float, bits: Int) {
        precondition(bits >= 1 && high >= low)
        self.bits = bits
        step = (high - low) / Float((1 << bits) - 1)
        lowestCode = step > 0 ? (low / step).rounded(.down) : 0
        highestCode = lowestCode + Float((1 << bits) - 1)
    }

    /// The lowest and highest output levels.
    public var low: Float { lowestCode * step }
    public var high: Float { highestCode * step }

    /// The converted value of `value`.
    @inlinable
    public func convert(_ value: Float) -> Float {
        guard step > 0 else { return 0 }
        return min(max((value / step).rounded(.toNearestOrEven), lowestCode), highestCode) * step
    }
}
