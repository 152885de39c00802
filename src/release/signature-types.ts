/** The shapes of release signatures on the wire, apart from the crypto (the console compiles them without Node). */

/** A signature, as stored with a release and sent with each desired instance. */
export interface ReleaseSignature {
  /** the id of the key that made it (`keyIdOf`) */
  keyId: string;
  /** base64 of the 64-byte Ed25519 signature */
  value: string;
}

/** A public key as the server publishes it (join answer, every desired state). */
export interface SigningKey {
  keyId: string;
  /** base64 of the raw 32-byte Ed25519 public key */
  publicKey: string;
}
