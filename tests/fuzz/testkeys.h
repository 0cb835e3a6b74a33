/*
 * testkeys.h - TEST-ONLY signing keys for the fuzzers (fuzz_jwt, fuzz_token).
 *
 * Generated once with `openssl genpkey` for this purpose only; they protect
 * nothing and are checked in so that seeds and crash reproducers that carry
 * a valid signature stay valid across runs. Never use them anywhere else.
 */
#ifndef OCIGATE_FUZZ_TESTKEYS_H
#define OCIGATE_FUZZ_TESTKEYS_H

static const char og_fuzz_test_ec_p256_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgddxzCdkU9+y3Speb\n"
    "/AqltxKJsPpxRIDe26ZoqD4K+rGhRANCAAQAT35MLkhT1711l+UF63OSj0ivEwx8\n"
    "zG5ymI9pZINrIb4W3uBHUo4YMMmmjFZ6UPj73V0QZwZHTWRSQ6KUaWmc\n"
    "-----END PRIVATE KEY-----\n"
    ;

static const char og_fuzz_test_rsa2048_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCppEdhKE7lubUT\n"
    "NKJoDGlAHw0VzA4ZcaLg7otHbMtIUdPwY8rhojvX+BvVRKbyfeUa38NSC43k86tC\n"
    "vWSLfuRq3kPR4sUpSI9rdGzECJSF6LBIOqlVFjTWcU5qMyu2rKepDjOtuzcTUDhq\n"
    "yptyFVPfNbzBdyP8ApfoNeVs6dCayzFrVuA4fqLgWccWjOunfYjKG1mWZEJoTR3r\n"
    "LOp3SIIsswcVqV7R4GUaTyYzbpJXWN3OoYq/ksfca6PJCfiCi+k9BA2MChbzKCwl\n"
    "uaBR7oetoTlHjsG05OH3g2nko9tlaVX3fQ52US0gJ0wH+LqgM6XppObB8EOBuEo5\n"
    "S5+cHT7zAgMBAAECggEANAQCOwFAB+KEaiombh74Gsgqm/dgj16voaajIDh0sG0e\n"
    "vkPrDnpPPS5/YkpVol8F49KeskaGsKAicClgbgFvinEyfGW7LKhqCXm+a/FxkQnD\n"
    "G7KY/1T6yJIfiCK+kZmpIwYOxIN2JL7hPaV4OmfdusBgazXb28bzyyjTeyzKYNvT\n"
    "AhvUFzc6l50uBWM3vTV+7Zm0a7azxL8SOnbbPRsvxlE3VLQ7ynEIB0wxvkRaBuGe\n"
    "9J/pmUElnvnbQ3kdujnNoMEbwnbb2B5A2zHgQGWX15VC7OgkU//dNXHsJohieF9U\n"
    "9MI1eQtc0ayFKL4TqqjiQXUi/ZoXaQBh9F6Nsy+eQQKBgQDcPGFdVVN88Lf+vBYp\n"
    "HLeB49RVV+/5y90/w7vnPZ/RS6T/blF87yeLaLUCIis8w/RWZ6fUO6i7pu/Pwt3D\n"
    "kUz0Hlnr7/al5LLJEYxpZX15f4XDSFHBnIIVmt9n5Aqz6lR95xN64gFQB4TaL8ak\n"
    "hq0GsQcs3ZPNifhxspV/zBzl4QKBgQDFMJrArF83iAMKX/ogvsKpd4ZlL6Y95Daa\n"
    "p0f4QctHuJGe3BPcJO5zv4lJOP8MAJMYBI1FhtJ0q9CReAVI/W5Mnsa2T3cs1jmm\n"
    "4qlhcczxOJPrRkxcd6zC129Vz0OfC0G4lWxdDRWbk5rAjvdQWRbB8dSdaO1fUNba\n"
    "l9owWgeXUwKBgFUXOyMdeYFXXC+eqg0+XCRiS0KiFET2IEinrmzcoWfzCw/pprBX\n"
    "knbJgM4PN5dluny71dspJbtC93rVNmt+MzZKl8GR2EEmSHFpR0/dd4o+3AakZXoh\n"
    "px0D1ndEY2I6EmUGp78dnRY3oXvPY7djlWx1b2lFPvr16Li9IAfda/jhAoGBAImw\n"
    "sL6NHkemX4klD4FB8qdm4J9TMF/TNRW0bRq6xnkkNfqZbfywhRipy/EnLWByHkQN\n"
    "GaBMzjPNrWuGRRp8bEJwNA0lW/Ag/ky7xM5YKmTdvtvwUG3Y2veKeyGOAofR0mhT\n"
    "XkFzW30xCkQfEC44px1yAaaQl/+QcRZeJmrQ0rAlAoGAciZEryW6P86Uru3O/XW7\n"
    "/MuDhOXoz/v35rcFY+aPprGBWGFlNh42rsKwoUM8jIrNc1bAP6oVRFEkcWwTyrwM\n"
    "e3CqYRcbV1QQ1EaEH19sZIFx42Xssn6h43IhN+40ZuccKrb8BknSPpgy8MxuOVpz\n"
    "pPho0XRXzTkXD/qBNC9c01c=\n"
    "-----END PRIVATE KEY-----\n"
    ;

#endif
