import CimCarlo
import Foundation
import Testing

@Suite struct SHA256Tests {
    @Test func knownDigests() {
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hex(long) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    /// A million 'a' (FIPS 180-2's third example) fed in uneven pieces, and 100 000 bytes in
    /// pieces of every size from 1 to 130: streaming gives the one-shot digest.
    @Test func streamingInPiecesGivesTheOneShotDigest() {
        var hasher = SHA256()
        var remaining = 1_000_000
        var piece = 1
        while remaining > 0 {
            let count = min(piece, remaining)
            hasher.update(repeatElement(UInt8(ascii: "a"), count: count))
            remaining -= count
            piece = piece % 997 + 1
        }
        #expect(hasher.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        let data = (0..<100_000).map { UInt8(($0 * 7 + 3) % 256) }
        var pieces = SHA256()
        var start = 0
        var size = 1
        while start < data.count {
            let end = min(start + size, data.count)
            pieces.update(data[start..<end])
            start = end
            size = size % 130 + 1
        }
        #expect(pieces.finalizeHex() == SHA256.hex(data))
        // Python: hashlib.sha256(bytes((i * 7 + 3) % 256 for i in range(100000)))
        #expect(SHA256.hex(data) == "d96bab6a55ee326ba206dd4a85a6e95e14360d7fabbf448f03e689c24382b7d0")
    }
}
