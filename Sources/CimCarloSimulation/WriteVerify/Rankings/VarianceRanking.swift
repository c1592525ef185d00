import CimCarloCrossbar
import CimCarloDevices

/// `variance`: curvature × the variance write-verify removes from the weight,
/// `S · Σ_d c_d² (σ²_one-shot(x_d) − σ²_verified(x_d)) / m²` over the weight's devices (fold
/// coefficients c_d, targets x_d, m = max|W| of the layer), the verified spread from the
/// device's write-verify model (`VerifiedSpread`): the variation-aware SWIM.
package struct VarianceRanking: SelectionRanking {
    package var formula: String { "variance: S × variance removed by write-verify, per-layer max|W| units" }

    package func scores(_ selector: PolicySelector) -> [[Float]] {
        let verifiedSpread = VerifiedSpread(device: selector.device, seed: selector.seed)
        return selector.mapping.layers.map { layer in
            let weights = selector.network.weights(ofNode: layer.nodeIndex)
            let m = weights.reduce(0) { max($0, abs($1)) }
            let curvature = selector.sensitivity!.normalizedCurvature(network: selector.network, node: layer.nodeIndex)
            let removed = removedVariance(layer, scale: m, device: selector.device, verifiedSpread: verifiedSpread)
            return zip(curvature, removed).map { $0 * $1 }
        }
    }

    /// Per weight: the variance (units of max|W|²) that write-verifying its devices removes.
    func removedVariance(_ layer: LayerMapping, scale m: Float, device: DeviceModel, verifiedSpread: VerifiedSpread)
        -> [Float]
    {
        guard m > 0 else { return Array(repeating: 0, count: layer.weightCount) }
        let squaredScale = Double(m * m)
        return layer.weightVariances { x in device.oneShotVariance(at: x) - verifiedSpread.variance(at: x) }
            .map { Float($0 / squaredScale) }
    }
}
