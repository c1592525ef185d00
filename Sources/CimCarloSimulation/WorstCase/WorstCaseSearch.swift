import CimCarloCrossbar
import CimCarloDevices
import CimCarloNetwork
import CimCarloSupport
import Foundation

/// A search for the weight deviations, each within `K` device sigmas of its mapped value,
/// that minimise a mapped network's accuracy on a set of images: projected gradient ascent
/// on the cross-entropy over the box `|δ_i| ≤ K σ_i` (L∞ in σ units), as Yan, Hu and Shi
/// searched worst-case weight perturbations of CiM networks (arXiv 2207.07626, ICCAD 2022).
///
/// The accuracy it finds is reached by a perturbation inside the box, so it is an *upper
/// bound* on the worst-case accuracy over the box; the true worst case may be lower. It is
/// not a proof of robustness.
///
/// **σ.** Each mapped weight's σ is the standard deviation of its effective weight on an
/// unverified chip: `σ_i² = Σ_d c_d² (σ²_d2d(x_d) + σ²_prog(x_d))` over the weight's devices
/// (fold coefficients `c_d`, targets `x_d`, `DeviceModel.oneShotVariance`: device-to-device
/// variation plus one programming pulse, level-dependent where the model is; lognormal spreads
/// by their Gaussian equivalent), plus, with the offset encoding, the variance of its reference
/// devices (`LayerMapping.referenceVariances`; shared by a row of its tile, which the per-weight
/// box does not model). Not included: stuck-at faults (not a bounded deviation), drift,
/// relaxation and read noise (they depend on the time read), write-verify, and the periphery
/// (DAC, ADC, IR drop): the search perturbs effective weights.
///
/// **Algorithm.** From the mapped (quantised) weights `w`, each start runs `steps` steps of
/// `δ ← clip(δ + η_t · K σ ⊙ sign(∇_w L(w + δ)), −Kσ, Kσ)`, `L` the mean cross-entropy on the
/// images, with `η_t = 0.02 + 0.98 · (1 + cos(π t / steps)) / 2` (1 at the first step, which
/// from `δ = 0` is the fast-gradient-sign vertex, falling to 0.02). The first start is `δ = 0`,
/// the others random vertices of the box. Every iterate is evaluated (the gradient pass gives
/// its accuracy); the one with the lowest accuracy is kept, ties to the higher loss. Digital
/// layers (batch normalisation, activations) are not perturbed.
///
/// Deterministic: the gradient is summed over batches in an order that does not depend on the
/// thread count, and the random starts come from the generator `search` is given.
public struct WorstCaseSearch: Sendable {
    /// The worst perturbation found at one bound.
    public struct Finding: Sendable {
        /// `K`, device sigmas per weight.
        public var bound: Double
        /// Accuracy and mean loss on the images with the worst perturbation found.
        public var evaluation: Evaluation
        /// Per mapped layer, `δ` of each weight (raw weight units), `|δ_i| ≤ K σ_i`.
        public var deviations: [[Float]]
        /// The bound of the search that found it: `bound` itself, or a smaller one whose
        /// perturbation (inside this box too) was worse than this bound's own search found
        /// (`search(bounds:random:)`).
        public var foundWithin: Double
        /// The start (0: from `δ = 0`) and step (0: the start itself) that found it.
        public var start: Int
        public var step: Int
        /// Passes over the images (each a forward pass, and a backward one but for the last of
        /// each start).
        public var passes: Int
        /// Wall time of the search, seconds.
        public var seconds: Double
    }

    /// The network with every mapped weight at its noise-free quantised value (what an ideal
    /// chip computes).
    public let network: Network
    public let mapping: CrossbarMapping
    public let images: LabeledImages
    /// Per mapped layer, each weight's σ (raw weight units).
    public let sigmas: [[Float]]
    /// Gradient steps per start.
    public let steps: Int
    /// Starts: the first from `δ = 0`, the others from random vertices of the box.
    public let starts: Int
    /// Worker threads of each pass over the images.
    public let threads: Int
    /// Accuracy and loss of `network`, unperturbed, on `images` (as the search's passes compute it).
    public let clean: Evaluation

    /// Images per batch of the gradient passes.
    public static let batchSize = 128

    /// Prepares the search on `network` as `mapping` lays it out on `device`, evaluated on
    /// `images`; evaluates the unperturbed network once.
    public init(
        network: Network, mapping: CrossbarMapping, device: DeviceModel, images: LabeledImages, steps: Int = 40,
        starts: Int = 1, threads: Int = 1
    ) throws {
        guard steps >= 1 else { throw WorstCaseError.steps(steps) }
        guard starts >= 1 else { throw WorstCaseError.starts(starts) }
        guard images.count > 0 else { throw WorstCaseError.noImages }
        self.network = mapping.quantizedNetwork(network)
        self.mapping = mapping
        self.images = images
        sigmas = Self.weightSigmas(mapping: mapping, device: device)
        self.steps = steps
        self.starts = starts
        self.threads = max(1, threads)
        let workspaces = try Self.makeWorkspaces(
            network: self.network, mapping: mapping, images: images, threads: self.threads)
        clean =
            Self.pass(self.network, mapping: mapping, images: images, workspaces: workspaces, gradient: false)
            .evaluation
    }

    /// Per mapped layer, each weight's σ on an unverified chip (raw weight units): the square
    /// root of its devices' one-shot variance folded into the weight, plus its reference's.
    public static func weightSigmas(mapping: CrossbarMapping, device: DeviceModel) -> [[Float]] {
        mapping.layers.map { layer in
            let own = layer.weightVariances(deviceVariance: device.oneShotVariance(at:))
            let reference = layer.referenceVariances(deviceVariance: device.oneShotVariance(at:))
            return zip(own, reference).map { Float(($0 + $1).squareRoot()) }
        }
    }

    /// The step `η_t` of step `t`, a fraction of the box's half-width `K σ`.
    public func stepFraction(_ step: Int) -> Float {
        0.02 + 0.98 * Float((1 + cos(Double.pi * Double(step) / Double(steps))) / 2)
    }

    /// The worst perturbation found within `bound` = `K` sigmas per weight (`K ≥ 0`, finite;
    /// `K = 0` is the unperturbed network). Random starts draw from `random`.
    public func search(bound: Double, random: inout some RandomNumberGenerator) throws -> Finding {
        try search(bound: bound, random: &random, workspaces: makeWorkspaces())
    }

    /// The workspaces of this search's passes.
    func makeWorkspaces() throws -> PassWorkspaces {
        try Self.makeWorkspaces(network: network, mapping: mapping, images: images, threads: threads)
    }

    /// `search(bound:random:)` on workspaces made already.
    func search(bound: Double, random: inout some RandomNumberGenerator, workspaces: PassWorkspaces) throws
        -> Finding
    {
        guard bound.isFinite, bound >= 0 else { throw WorstCaseError.bound(bound) }
        let started = DispatchTime.now().uptimeNanoseconds
        let zero = mapping.layers.map { [Float](repeating: 0, count: $0.weightCount) }
        var worst = Finding(
            bound: bound, evaluation: clean, deviations: zero, foundWithin: bound, start: 0, step: 0, passes: 0,
            seconds: 0)
        guard bound > 0 else { return worst }
        let halfWidths = sigmas.map { $0.map { Float(bound) * $0 } }
        var passes = 0
        for start in 0..<starts {
            var deviations =
                start == 0
                ? zero : halfWidths.map { $0.map { Bool.random(using: &random) ? $0 : -$0 } }
            for step in 0...steps {
                let (evaluation, gradient) = Self.pass(
                    perturbed(by: deviations), mapping: mapping, images: images, workspaces: workspaces,
                    gradient: step < steps)
                passes += 1
                if (start, step) != (0, 0), Self.isWorse(evaluation, than: worst.evaluation) {
                    worst = Finding(
                        bound: bound, evaluation: evaluation, deviations: deviations, foundWithin: bound, start: start,
                        step: step, passes: 0, seconds: 0)
                }
                guard let gradient else { break }
                let fraction = stepFraction(step)
                for layer in deviations.indices {
                    deviations[layer].withUnsafeMutableBufferPointer { deviation in
                        for index in deviation.indices {
                            let halfWidth = halfWidths[layer][index]
                            let slope = gradient[layer][index]
                            let direction: Float = slope > 0 ? 1 : (slope < 0 ? -1 : 0)
                            deviation[index] = min(
                                max(deviation[index] + fraction * halfWidth * direction, -halfWidth), halfWidth)
                        }
                    }
                }
            }
        }
        worst.passes = passes
        worst.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9
        return worst
    }

    /// Searches each of `bounds` in increasing order and returns the findings in that order.
    /// A perturbation within a smaller bound lies within every larger one, so each finding is
    /// the worst of its own search and the findings before it (`foundWithin` says which):
    /// the worst accuracy found never rises with K. Random starts draw from `random` in turn.
    public func search(bounds: [Double], random: inout some RandomNumberGenerator) throws -> [Finding] {
        for bound in bounds where !(bound.isFinite && bound >= 0) { throw WorstCaseError.bound(bound) }
        var findings: [Finding] = []
        let workspaces = try makeWorkspaces()
        for bound in bounds.sorted() {
            var finding = try search(bound: bound, random: &random, workspaces: workspaces)
            if let previous = findings.last, Self.isWorse(previous.evaluation, than: finding.evaluation) {
                finding.evaluation = previous.evaluation
                finding.deviations = previous.deviations
                finding.foundWithin = previous.foundWithin
                (finding.start, finding.step) = (previous.start, previous.step)
            }
            findings.append(finding)
        }
        return findings
    }

    /// Lower accuracy, or the same accuracy with a higher loss.
    static func isWorse(_ evaluation: Evaluation, than other: Evaluation) -> Bool {
        evaluation.accuracy < other.accuracy
            || (evaluation.accuracy == other.accuracy && evaluation.meanLoss > other.meanLoss)
    }

    /// Accuracy and mean loss with every mapped weight moved by `deviations` (per mapped layer,
    /// raw weight units), evaluated as the search evaluates its iterates.
    public func evaluate(deviations: [[Float]]) throws -> Evaluation {
        Self.pass(
            perturbed(by: deviations), mapping: mapping, images: images, workspaces: try makeWorkspaces(),
            gradient: false
        ).evaluation
    }

    /// `network` with `deviations` added to its mapped weights.
    func perturbed(by deviations: [[Float]]) -> Network {
        var result = network
        for (layer, mapped) in mapping.layers.enumerated() {
            result.modifyParameters(ofNode: mapped.nodeIndex) { weight, _ in
                for index in weight.indices { weight[index] += deviations[layer][index] }
            }
        }
        return result
    }
}

/// A worst-case search asked for something it cannot do.
public enum WorstCaseError: CimCarloError, Equatable {
    case bound(Double)
    case steps(Int)
    case starts(Int)
    case noImages

    public var kind: CimCarloErrorKind { .badInput }

    public var description: String {
        switch self {
        case .bound(let value):
            "worst-case bound must be a finite number of device sigmas, 0 or more; got \(value)"
        case .steps(let value): "worst-case search needs at least 1 gradient step; got \(value)"
        case .starts(let value): "worst-case search needs at least 1 start; got \(value)"
        case .noImages: "worst-case search needs at least one image to evaluate"
        }
    }
}
