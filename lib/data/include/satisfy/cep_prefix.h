/*
 * cep_prefix.h - Brazilian postcode (CEP) prefixes: the first 5 digits of a
 * CEP, which is all the Olist files give for customers, sellers and the
 * geolocation table (columns *_zip_code_prefix; sf_place.zip holds one).
 */
#ifndef SATISFY_CEP_PREFIX_H
#define SATISFY_CEP_PREFIX_H

/* Left-pads a CEP prefix to 5 digits ("1310" -> "01310"); accepts "1310.0".
 * Returns -1 for non-digits or more than 5 digits. */
int sf_cep_prefix_normalize(const char *in, char out[6]);

#endif
