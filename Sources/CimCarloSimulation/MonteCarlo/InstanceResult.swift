import Foundation

/// What one chip instance achieved under every policy and at every time point.
public struct InstanceResult: Sendable, Equatable {
    public var instance: Int
    /// Top-1 accuracy, `[policy][time]`, fractions.
    public var accuracy: [[Float]]
    /// Mean cross-entropy, `[policy][time]`, nats.
    public var loss: [[Float]]
    /// Programming pulses over all devices, per policy.
    public var writeCycles: [Double]
    /// `writeCycles × pulse time`, seconds, per policy.
    public var programmingTimeSeconds: [Double]

    public init(
        instance: Int, accuracy: [[Float]], loss: [[Float]], writeCycles: [Double],
        programmingTimeSeconds: [Double]
    ) {
        self.instance = instance
        self.accuracy = accuracy
        self.loss = loss
        self.writeCycles = writeCycles
        self.programmingTimeSeconds = programmingTimeSeconds
    }

    /// An instance with no values yet, which reading a result file fills dataset by dataset
    /// (`ResultSchema`).
    package init(instance: Int) {
        self.init(instance: instance, accuracy: [], loss: [], writeCycles: [], programmingTimeSeconds: [])
    }
}
