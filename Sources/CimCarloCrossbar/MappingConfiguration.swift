/// How weights become device conductances: quantisation, bit slicing, signs and array size.
public struct MappingConfiguration: Sendable, Equatable {
    /// How negative weights are represented.
    public enum SignEncoding: String, Sendable, CaseIterable {
        /// Two devices per slice, `G+ − G−`; the unused side is programmed to g_min.
        case differential
        /// One device per slice holds the magnitude; the sign is applied digitally
        /// (the weight-level abstraction of SWIM, Yan et al., DAC 2022).
        case signMagnitude = "sign-magnitude"
        /// One device per slice holds `q + L` (an extra bit of range); each array has a
        /// reference column per slice programmed to `L`, whose read-out is subtracted
        /// digitally (offset/reference-column scheme, e.g. ISAAC, Shafiee et al., ISCA 2016).
        case offset
    }

    /// Where batch normalisation is computed.
    public enum BatchNormalizationPlacement: String, Sendable, CaseIterable {
        /// In the digital periphery, exactly as trained (the default).
        case digital
        /// Folded into the preceding convolution's or dense layer's weights and bias before
        /// quantisation, as chips without digital batch normalisation program them.
        case fold
    }

    /// How the quantisation scale is chosen.
    public enum ScaleGranularity: String, Sendable, CaseIterable {
        /// One scale per layer: `max|W|` of the layer.
        case layer
        /// One scale per output column: `max|W|` of the column's weights.
        case column
    }

    /// Magnitude bits per weight, 1 … 16; 0 leaves weights unquantised (one analog
    /// conductance per weight and side, as IBM's kit maps inference tiles).
    public var weightBits: Int
    public var signEncoding: SignEncoding
    public var scale: ScaleGranularity
    /// Word lines per array.
    public var arrayRows: Int
    /// Bit lines per array.
    public var arrayColumns: Int
    public var batchNormalization: BatchNormalizationPlacement = .digital

    public init(
        weightBits: Int = 8, signEncoding: SignEncoding = .differential, scale: ScaleGranularity = .layer,
        arrayRows: Int = 128, arrayColumns: Int = 128
    ) {
        self.weightBits = weightBits
        self.signEncoding = signEncoding
        self.scale = scale
        self.arrayRows = arrayRows
        self.arrayColumns = arrayColumns
    }

    /// Slices per weight, `ceil(bits / cellBits)` with `bits = weightBits` (+1 for the offset
    /// encoding, whose stored values span twice the magnitude range); 1 when unquantised.
    public func slices(cellBits: Int) -> Int {
        let bits = weightBits + (signEncoding == .offset ? 1 : 0)
        return weightBits == 0 ? 1 : (bits + cellBits - 1) / cellBits
    }

    /// Devices per slice: 2 for a differential pair, else 1.
    public var sides: Int { signEncoding == .differential ? 2 : 1 }
}
