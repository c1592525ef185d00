/// How crossbar outputs are read: the simulation fidelity, input DACs, output ADCs and drift
/// compensation (README, "ADC resolution and placement" and "Run specs").
public struct PeripheryConfiguration: Sendable, Equatable, CustomStringConvertible {
    public enum Fidelity: String, Sendable, CaseIterable {
        /// Conductances folded into one perturbed weight matrix per layer; exact for ideal periphery.
        case effectiveWeight = "effective-weight"
        /// Per array tile, slice and side of the pair: partial sums, DAC and ADC quantisation,
        /// digital shift-and-add and tile accumulation.
        case tile
    }

    /// Where the ADC sits.
    public enum ADCPlacement: String, Sendable, CaseIterable {
        /// One conversion per tile, slice and side (ISAAC, Shafiee et al., ISCA 2016).
        case slice
        /// Slices and sides shifted and added in the analog domain, one conversion per tile
        /// (Neural-PIM, Cao et al., IEEE TC 2021).
        case merged
    }

    /// How the ADC's input range is set.
    public enum ADCRange: String, Sendable, CaseIterable {
        /// The full scale the array could produce: rows × input range × the largest conductance.
        case fixed
        /// The smallest and largest partial sums of the noise-free network on calibration images, per layer.
        case calibrated
        /// As `calibrated`, per output column.
        case column
    }

    /// Drift compensation: outputs scaled by baseline ÷ current read-out of a reference input
    /// (IBM's kit: the mean |output| for one-hot inputs, i.e. the mean |weight|).
    public enum DriftCompensation: String, Sendable, CaseIterable {
        case none
        /// One factor per layer.
        case global
        /// One factor per output column.
        case column
    }

    public var fidelity: Fidelity
    /// Input DAC resolution in bits (inputs split into positive and negative parts, each
    /// quantised over the calibrated input range); 0 = ideal.
    public var dacBits: Int
    /// Input bits applied per cycle (bit-serial when 1); 0 = all `dacBits` at once.
    public var dacBitsPerCycle: Int
    /// ADC resolution in bits; 0 = ideal.
    public var adcBits: Int
    public var adcPlacement: ADCPlacement
    public var adcRange: ADCRange
    public var driftCompensation: DriftCompensation

    /// `key=value` pairs, stored in result files (and compared on `--resume`).
    public var description: String {
        guard fidelity == .tile else {
            return "fidelity=\(fidelity.rawValue) drift_compensation=\(driftCompensation.rawValue)"
        }
        return "fidelity=tile dac_bits=\(dacBits) dac_bits_per_cycle=\(dacBitsPerCycle) adc_bits=\(adcBits) "
            + "adc_placement=\(adcPlacement.rawValue) adc_range=\(adcRange.rawValue) drift_compensation=\(driftCompensation.rawValue)"
    }

    public init(
        fidelity: Fidelity = .effectiveWeight, dacBits: Int = 0, dacBitsPerCycle: Int = 0, adcBits: Int = 0,
        adcPlacement: ADCPlacement = .slice, adcRange: ADCRange = .calibrated,
        driftCompensation: DriftCompensation = .none
    ) {
        self.fidelity = fidelity
        self.dacBits = dacBits
        self.dacBitsPerCycle = dacBitsPerCycle
        self.adcBits = adcBits
        self.adcPlacement = adcPlacement
        self.adcRange = adcRange
        self.driftCompensation = driftCompensation
    }
}
