/* responder/identity.c - stub, being written */
