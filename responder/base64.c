/* responder/base64.c - stub, being written */
