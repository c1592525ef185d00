import CimCarlo
import Testing

@testable import CimCarloSupport

/// Philox-4×32-10 against the known-answer vectors of its authors' Random123 library
/// (`kat_vectors`, philox4x32 with 10 rounds).
@Suite struct PhiloxTests {
    @Test(
        arguments: [
            (
                [UInt32](repeating: 0, count: 4), (UInt32(0), UInt32(0)),
                [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8]
            ),
            (
                [UInt32](repeating: 0xFFFF_FFFF, count: 4), (UInt32(0xFFFF_FFFF), UInt32(0xFFFF_FFFF)),
                [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD]
            ),
            (
                [0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344], (UInt32(0xA409_3822), UInt32(0x299F_31D0)),
                [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1]
            ),
        ] as [([UInt32], (UInt32, UInt32), [UInt32])])
    func knownAnswers(counter: [UInt32], key: (UInt32, UInt32), expected: [UInt32]) {
        #expect(Philox.block(counter, key: key) == expected)
    }
}
