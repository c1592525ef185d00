import CimCarloDevices

extension LayerMapping {
    /// The layer's weights in order, in runs whose devices fill at most one `DeviceChunk`.
    package var weightChunks: [Range<Int>] {
        let perChunk = DeviceChunk.capacity / devicesPerWeight
        return stride(from: 0, to: weightCount, by: perChunk).map { $0..<min($0 + perChunk, weightCount) }
    }

    /// The layer's reference devices (offset encoding; device indices within the layer) in
    /// runs of at most one `DeviceChunk`.
    package var referenceChunks: [Range<Int>] {
        stride(from: weightDeviceCount, to: devices, by: DeviceChunk.capacity).map {
            $0..<min($0 + DeviceChunk.capacity, devices)
        }
    }

    /// The devices of weights `weights`.
    package func devices(of weights: Range<Int>) -> Range<Int> {
        (weights.lowerBound * devicesPerWeight)..<(weights.upperBound * devicesPerWeight)
    }
}
