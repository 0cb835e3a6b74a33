/* responder/htpasswd.c - stub, being written */
