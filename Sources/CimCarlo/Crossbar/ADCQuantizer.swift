/// A uniform ADC with `bits` of resolution over `[low, high]`: `2^bits` levels spaced
/// `Δ = (high − low) / (2^bits − 1)`, inputs outside the range clipped to its ends.
/// For inputs spread evenly over the range the error is uniform on ±Δ/2, mean squared
/// error Δ²/12 (Widrow & Kollár, *Quantization Noise*, 2008).
public struct ADCQuantizer: Sendable, Equatable {
    public let low: Float
    public let high: Float
    public let bits: Int
    /// The level spacing Δ.
    public let step: Float

    public init(low: Float, high: Float, bits: Int) {
        precondition(bits >= 1 && high >= low)
        self.low = low
        self.high = high
        self.bits = bits
        step = (high - low) / Float((1 << bits) - 1)
    }

    /// The converted value of `value`.
    @inlinable
    public func convert(_ value: Float) -> Float {
        let clipped = min(max(value, low), high)
        return step > 0 ? low + ((clipped - low) / step).rounded() * step : low
    }
}
