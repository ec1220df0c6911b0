// '@crowdwiz/gateway/codec': the codec alone (the codec-only component when built).
export { createCodec, codecComponent, CodecError, type Codec } from './index.js';
