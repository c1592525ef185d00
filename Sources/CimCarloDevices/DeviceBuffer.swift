/// A fixed-size buffer of device values that frees its memory when the last reference goes,
/// padded to whole SIMD lanes and zeroed.
public final class DeviceBuffer<Element>: @unchecked Sendable {
    @usableFromInline let storage: UnsafeMutableBufferPointer<Element>

    /// `count` elements (rounded up to a multiple of 8), each `zero`.
    public init(count: Int, zero: Element) {
        storage = .allocate(capacity: max(8, (count + 7) & ~7))
        storage.initialize(repeating: zero)
    }

    deinit { storage.deallocate() }

    // Public and inlinable, not package: the simulator's loops in other targets index these per
    // device, and only public code is inlined across modules.
    /// The first element.
    @inlinable public var base: UnsafeMutablePointer<Element> { storage.baseAddress! }
    /// The elements allocated: the count asked for, rounded up to a multiple of 8.
    @inlinable public var count: Int { storage.count }

    /// Element `index` (checked in debug builds only).
    @inlinable public subscript(index: Int) -> Element {
        get { storage[index] }
        set { storage[index] = newValue }
    }
}

extension DeviceBuffer where Element == Float {
    /// `count` zeros (rounded up to a multiple of 8).
    public convenience init(count: Int) { self.init(count: count, zero: 0) }
}
