extension LayerMapping {
    /// Per weight, the variance its devices' independent errors give its effective weight:
    /// `Σ_d c_d² · v(x_d)` over the weight's devices, with fold coefficients `c_d`, normalised
    /// targets `x_d` and `deviceVariance(x) = v(x)` in units of the conductance range², so the
    /// result is in weight² (raw weight units, not divided by `max|W|²`). The offset encoding's
    /// reference devices are not included (`referenceVariances`).
    ///
    /// What `v` is decides what the variance means: the one-shot variance for an unverified
    /// chip (the worst-case search's σ²), the variance write-verify removes (the variance-aware
    /// policy's score).
    public func weightVariances(deviceVariance: (Double) -> Double) -> [Double] {
        var variances = [Double](repeating: 0, count: weightCount)
        let perWeight = devicesPerWeight
        let chunk = 4096
        var targets = [Float](repeating: 0, count: chunk * perWeight)
        var coefficients = targets
        for start in stride(from: 0, to: weightCount, by: chunk) {
            let weights = start..<min(start + chunk, weightCount)
            targets.withUnsafeMutableBufferPointer { targets in
                coefficients.withUnsafeMutableBufferPointer { coefficients in
                    encode(weights: weights, targets: targets.baseAddress!, coefficients: coefficients.baseAddress!)
                }
            }
            for weightIndex in weights {
                let first = (weightIndex - start) * perWeight
                var sum = 0.0
                for device in first..<(first + perWeight) {
                    let coefficient = Double(coefficients[device])
                    sum += coefficient * coefficient * deviceVariance(Double(targets[device]))
                }
                variances[weightIndex] = sum
            }
        }
        return variances
    }

    /// Per weight, the variance the offset encoding's reference devices add to its effective
    /// weight, `(s / L)² · Σ_j (B^j (B − 1))² · v(x_ref,j)` for the reference column of its
    /// array (weight² units; zeros without a reference). One reference device serves a row of
    /// every column in its tile, so these errors are shared, not independent per weight.
    public func referenceVariances(deviceVariance: (Double) -> Double) -> [Double] {
        guard hasReference else { return [Double](repeating: 0, count: weightCount) }
        var perUnitScale = 0.0
        for slice in 0..<slices {
            let sliceWeight = Double(referenceSliceWeights[slice])
            perUnitScale += sliceWeight * sliceWeight * deviceVariance(Double(referenceLevels[slice]))
        }
        return (0..<weightCount).map { weightIndex in
            let scale = Double(referenceColumnScales[weightIndex / rows])
            return scale * scale * perUnitScale
        }
    }
}
