"""Writes signing vectors made by Debian's jupyter_client Session (the reference implementation).

python3 golden_vectors.py > ../resources/golden-signatures.json
"""
import json

from jupyter_client.session import Session

vectors = []
for key, scheme in [(b"secret-key", "hmac-sha256"), (b"0123456789abcdef" * 4, "hmac-sha256"),
                    (b"another", "hmac-sha512"), (b"", "hmac-sha256")]:
    s = Session(key=key, signature_scheme=scheme, username="golden", session="golden-session")
    for content in [{}, {"code": "print('héllo')\n", "silent": False}, {"data": {"image/png": "iVBOR" * 50}}]:
        msg = s.msg("execute_request", content)
        frames = s.serialize(msg)  # [b"<IDS|MSG>", signature, header, parent, metadata, content]
        vectors.append({"key": key.decode(), "scheme": scheme,
                        "frames": [f.decode("utf-8") if isinstance(f, bytes) else f for f in frames]})
print(json.dumps(vectors, indent=1))
